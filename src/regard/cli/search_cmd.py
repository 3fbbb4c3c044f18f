"""``regard search``: query an index (or a pipeline of indexes) from the terminal."""

from __future__ import annotations

import textwrap

import click

from regard.cli.search_threads import bm25_options, threads_option


@click.command("search")
@click.argument("pipeline")
@click.argument("query")
@click.option("-k", "k", type=int, default=10, show_default=True, help="Number of results.")
@click.option("--snippet", type=int, default=160, show_default=True, help="Characters of text to show.")
@threads_option
def command(pipeline: str, query: str, k: int, snippet: int, threads: int | None) -> None:
    """Search PIPELINE (an index folder, or an expression such as "idx/bm25 | idx/dense") for QUERY.

    Prints rank, document id, score, title and a snippet of the text.
    """
    from regard.pipeline_spec import PipelineParser

    parser = PipelineParser(k=max(k, 100), **bm25_options(threads))
    stage = parser.parse(pipeline)
    hits = stage.search(query, k=k)
    if not hits:
        click.echo("no results")
        return
    docstores = [index.docstore for index in parser.indexes.values()]
    for rank, (docid, score) in enumerate(hits, start=1):
        doc = next((d for d in (store.get(docid) for store in docstores) if d is not None), None)
        click.echo(f"{rank:>3}  {docid}  {score:.4f}  {doc.title if doc else ''}")
        if doc and doc.text:
            click.echo(textwrap.indent(textwrap.shorten(doc.text, width=snippet, placeholder=" ..."), "     "))
