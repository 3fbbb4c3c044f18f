"""Every index kind regard knows: adding one is a module in ``regard/kinds/`` and a line here."""

from __future__ import annotations

import difflib

from regard.errors import RegardError
from regard.kinds import bm25, dense, dense_chunked, multivector, muvera, ngram
from regard.kinds.base import IndexKind

KINDS: dict[str, IndexKind] = {}


def register(kind: IndexKind) -> IndexKind:
    """Make ``kind`` available to Index.build, Index.retriever, ``regard index`` and configs."""
    KINDS[kind.name] = kind
    return kind


register(bm25.KIND)
register(dense.KIND)
register(dense_chunked.KIND)
register(multivector.KIND)
register(muvera.KIND)
register(ngram.KIND)


def index_kind(name: str) -> IndexKind:
    """The declaration of kind ``name``; an unknown name is a RegardError with the close ones."""
    if name not in KINDS:
        close = difflib.get_close_matches(name, KINDS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise RegardError(f"unknown index kind {name!r}{hint} (expected one of: {', '.join(KINDS)})")
    return KINDS[name]
