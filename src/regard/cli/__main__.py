"""``python -m regard.cli``: the same as the ``regard`` command."""

from regard.cli.main import cli

cli()
