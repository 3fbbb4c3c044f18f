"""The ``regard`` command line."""

from __future__ import annotations

import logging
import sys

import click

from regard import __version__
from regard.errors import RegardError
from regard.progress import set_quiet


class _Group(click.Group):
    """Turns regard's own errors into one clear line and exit code 2, not a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except RegardError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="regard")
@click.option("-v", "--verbose", is_flag=True, help="Log progress details.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars (they show only on a terminal anyway).")
def cli(verbose: bool, quiet: bool) -> None:
    """regard: retrieval and reranking with attention-based models.

    Build indexes of a corpus, search them, and evaluate pipelines of stages on test collections.
    """
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(message)s")
    if quiet:
        set_quiet()


def _register() -> None:
    from regard.cli import datasets_cmd, demo_cmd, eval_cmd, index_cmd, search_cmd, train_cmd
    from regard.cli import benchmark_cmd, run_cmd, serve_cmd, submit_cmd

    for module in (index_cmd, search_cmd, eval_cmd, datasets_cmd, train_cmd, demo_cmd):
        cli.add_command(module.command)
    for module in (run_cmd, benchmark_cmd, submit_cmd, serve_cmd):
        cli.add_command(module.command)


_register()
