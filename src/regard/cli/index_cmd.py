"""``regard index``: build an index from a corpus. The kind options come from the kinds' declarations."""

from __future__ import annotations

from collections.abc import Callable

import click

from regard.cli.ray_options import ray_options
from regard.kinds import KINDS, Param, index_kind

_CLICK_TYPES = {int: click.INT, float: click.FLOAT, str: click.STRING}


def _default_text(param: Param) -> str:
    if param.default is None or param.default == "":
        return ""  # the help text says what an unset value means
    return str(param.default).lower() if isinstance(param.default, bool) else str(param.default)


def _kind_option(name: str, uses: list[tuple[str, Param]]) -> Callable:
    """One option for build parameter ``name``, shared by every kind that declares it (default: None = unset)."""
    param = uses[0][1]
    defaults = {}
    for kind, declared in uses:
        defaults.setdefault(_default_text(declared), []).append(kind)
    where = "; ".join(f"{', '.join(kinds)}" + (f": default {default}" if default else "")
                      for default, kinds in defaults.items())
    helps: dict[str, list[str]] = {}
    for kind, declared in uses:
        helps.setdefault(declared.help, []).append(kind)
    described = param.help if len(helps) == 1 else " ".join(f"{', '.join(kinds)}: {text}"
                                                           for text, kinds in helps.items())
    help_text = f"{described} [{where}]".strip()
    flag = param.cli_flag
    if param.kind is bool:
        return click.option(f"{flag}/--no-{flag[2:]}", name, default=None, help=help_text)
    choices = sorted({c for _, p in uses for c in (p.choices or ())})
    kind = click.Choice(choices) if choices else _CLICK_TYPES.get(param.kind, click.STRING)
    return click.option(flag, name, type=kind, default=None, help=help_text)


def _with_kind_options(command: Callable) -> Callable:
    uses: dict[str, list[tuple[str, Param]]] = {}
    for kind in KINDS.values():
        for param in kind.build_parameters:
            if param.kind is not object:
                uses.setdefault(param.name, []).append((kind.name, param))
    for name in sorted(uses, key=lambda n: uses[n][0][1].cli_flag, reverse=True):  # listed by flag
        command = _kind_option(name, uses[name])(command)
    return command


@click.command("index")
@click.argument("corpus")
@click.option("--kind", type=click.Choice(list(KINDS)), default="bm25", show_default=True,
              help="Index kind: " + "; ".join(f"{k.name}: {k.summary}" for k in KINDS.values()) + ".")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Index folder to create.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "tsv", "trec"]), default=None,
              help="Corpus file format (default: from the file name or its first line).")
@click.option("--overwrite", is_flag=True,
              help="Replace an existing regard index at --out (any other folder is refused, nothing deleted).")
@ray_options
@_with_kind_options
def command(corpus: str, kind: str, out: str, fmt: str | None, overwrite: bool, ray: bool, workers: int,
            cpus_per_worker: float, gpus_per_worker: float, **options) -> None:
    """Build a KIND index of CORPUS into OUT.

    CORPUS is a BEIR folder, a TREC document file, a JSONL or TSV file, a dataset name (e.g.
    scifact) or an ir_datasets id (irds:beir/scifact/test). The index is built beside OUT and moved
    into place only when complete. Each option below applies to the kinds named in its help; an
    option a kind does not take is refused.
    """
    from regard.data.corpus import Corpus
    from regard.kinds import Index

    declaration = index_kind(kind)
    given = {name: value for name, value in options.items() if value is not None}
    own = {param.name for param in declaration.build_parameters}
    foreign = sorted(name for name in given if name not in own)
    if foreign:
        flags = ", ".join(next(p.cli_flag for k in KINDS.values() for p in k.build_parameters if p.name == name)
                          for name in foreign)
        raise click.UsageError(f"{flags} does not apply to --kind {kind}")
    source = Corpus(corpus, fmt=fmt) if fmt else corpus
    index = Index.build(source, out, kind=kind, overwrite=overwrite, ray=ray, workers=workers,
                        gpus_per_worker=gpus_per_worker, cpus_per_worker=cpus_per_worker, **given)
    m = index.manifest
    skipped = f", {m.skipped_empty_documents} empty skipped" if m.skipped_empty_documents else ""
    click.echo(f"built {m.kind} index ({m.backend}) of {m.document_count} documents{skipped} "
               f"in {m.build_seconds:.1f}s: {index.folder}")
