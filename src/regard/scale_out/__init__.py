"""Past one machine: the two heavy maps (corpus → vectors, queries → reranked runs) on a Ray cluster.

``shards.py`` (the ``ShardMapper`` seam the encoding caches call, and its local implementation) and
``options.py`` need no Ray; ``ray_runtime.py``, ``actor_pool.py``, ``encode.py`` and ``rerank.py``
import Ray only when called. Nothing here imports from retrieval, rerank, eval, experiments or cli.
"""
