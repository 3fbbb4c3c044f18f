"""Index kinds, declared once each: build parameters, builder, retrieval stage (see kinds/base.py).

This layer sits above ``indexing/`` (storage) and ``retrieval/`` (stages) and joins them; neither
imports it.
"""

from regard.kinds.base import IndexKind, Param
from regard.kinds.index import Index
from regard.kinds.registry import KINDS, index_kind, register

__all__ = ["Index", "IndexKind", "KINDS", "Param", "index_kind", "register"]
