"""Where rerankers get document texts: an Index, a DocStore, or an index folder."""

from __future__ import annotations

from pathlib import Path
from typing import Union

from regard.indexing.docstore import DocStore
from regard.indexing.folder import IndexFolder

DocumentSource = Union[IndexFolder, DocStore, str, Path]


def as_docstore(source: DocumentSource) -> tuple[DocStore, str]:
    """The docstore of ``source`` and a key naming its corpus (the fingerprint when known)."""
    if isinstance(source, DocStore):
        return source, str(source.path.resolve())
    index = source if isinstance(source, IndexFolder) else IndexFolder.open(source)
    return index.docstore, index.manifest.corpus_fingerprint


def fetch_candidates(docstore: DocStore, queries, run, stage_name: str):
    """The incoming candidates of each query and their documents, checked against the docstore.

    Returns ``(wanted, texts)``: a list of (query, docids in incoming order) for queries present in
    ``run``, and a {docid: Document} mapping. Raises RegardError when there is no run or when a
    candidate is not in the docstore (the run was made on another corpus).
    """
    from regard.errors import RegardError

    if run is None:
        raise RegardError(f"{stage_name} reranks an incoming run: put it after a retriever "
                          f"(bm25 % 100 >> {stage_name.lower()})")
    wanted = [(q, run.docids(q.id)) for q in queries if q.id in run]
    texts = docstore.get_many(d for _, docids in wanted for d in docids)
    missing = sorted({d for _, docids in wanted for d in docids} - set(texts))
    if missing:
        raise RegardError(f"{len(missing)} document(s) of the incoming run are not in the docstore "
                          f"{docstore.path} (first: {missing[0]!r}); was the run made on another corpus?")
    return wanted, texts


def truncate_words(text: str, max_words: int | None) -> str:
    """The first ``max_words`` whitespace-separated words of ``text`` (all of it when None)."""
    if max_words is None:
        return text
    words = text.split()
    return " ".join(words[:max_words]) if len(words) > max_words else text
