"""``regard index``: build an index from a corpus."""

from __future__ import annotations

import click

from regard.cli.ray_options import ray_options
from regard.models import DEFAULT_DENSE_MODEL


@click.command("index")
@click.argument("corpus")
@click.option("--kind", type=click.Choice(["bm25", "dense", "dense-chunked", "multivector", "muvera", "ngram"]), default="bm25",
              show_default=True, help="Index kind.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Index folder to create.")
@click.option("--backend", type=click.Choice(["lucene", "bm25s"]), default="lucene", show_default=True,
              help="BM25 engine: Lucene through pyserini, or bm25s (no Java).")
@click.option("--k1", type=float, default=0.9, show_default=True, help="BM25 k1 (BEIR flat reference).")
@click.option("--b", type=float, default=0.4, show_default=True, help="BM25 b (BEIR flat reference).")
@click.option("--model", default=DEFAULT_DENSE_MODEL, show_default=True, help="Dense encoder: hub name or path.")
@click.option("--faiss", "faiss_type", type=click.Choice(["flat", "hnsw", "ivfpq"]), default="flat",
              show_default=True, help="FAISS index type (flat is exact inner product).")
@click.option("--fp16", is_flag=True, help="Store dense vectors as float16 (flat and hnsw).")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16", "fp16"]), default="auto", show_default=True,
              help="Encoding precision; auto is bf16 on CPUs with native bfloat16, fp16 on GPUs, else fp32.")
@click.option("--batch-size", type=int, default=64, show_default=True, help="Encoding batch size.")
@click.option("--query-prefix", default="", help='dense/dense-chunked: text put before each query, e.g. "query: " '
              '(E5), "Represent this sentence for searching relevant passages: " (BGE); recorded in the manifest.')
@click.option("--document-prefix", default="", help='dense/dense-chunked: text put before each document, e.g. '
              '"passage: " (E5); recorded in the manifest.')
@click.option("--max-length", type=int, default=None,
              help="dense/dense-chunked: tokens per text (default: the model's own maximum).")
@click.option("--device", default=None, help="Encoding device (default: cuda if available, else cpu).")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "tsv", "trec"]), default=None,
              help="Corpus file format (default: from the file name or its first line).")
@click.option("--overwrite", is_flag=True,
              help="Replace an existing regard index at --out (any other folder is refused, nothing deleted).")
@click.option("--doc-max-length", type=int, default=None,
              help="multivector/muvera: document tokens kept (default: the model's length; ColBERT doc_maxlen).")
@click.option("--query-max-length", type=int, default=None,
              help="multivector/muvera: query tokens (default 64; ColBERT query_maxlen).")
@click.option("--k-sim", type=int, default=5, show_default=True, help="muvera: SimHash bits (2^k_sim partitions).")
@click.option("--d-proj", type=int, default=16, show_default=True,
              help="muvera: projected dimension per partition (0: no projection).")
@click.option("--r-reps", type=int, default=20, show_default=True, help="muvera: repetitions.")
@click.option("--final-dim", type=int, default=None, help="muvera: final Count-Sketch dimension (default: none).")
@click.option("--seed", type=int, default=42, show_default=True, help="muvera: seed of hyperplanes and projections.")
@click.option("--chunk-tokens", type=int, default=256, show_default=True,
              help="dense-chunked: tokens per window, special tokens included.")
@click.option("--chunk-overlap", type=int, default=64, show_default=True, help="dense-chunked: tokens windows share.")
@click.option("--aggregate", type=click.Choice(["maxp", "firstp", "sumtop"]), default="maxp", show_default=True,
              help="dense-chunked: document score from its windows (best, first, sum of the top --top-chunks).")
@click.option("--top-chunks", type=int, default=3, show_default=True, help="dense-chunked: windows summed by sumtop.")
@ray_options
def command(corpus, kind, out, backend, k1, b, model, faiss_type, fp16, precision, batch_size, query_prefix,
            document_prefix, max_length, device, fmt, overwrite, doc_max_length, query_max_length, k_sim, d_proj, r_reps, final_dim, seed, chunk_tokens, chunk_overlap,
            aggregate, top_chunks, ray, workers, gpus_per_worker, cpus_per_worker):
    """Build a KIND index of CORPUS into OUT.

    CORPUS is a BEIR folder, a TREC document file, a JSONL or TSV file, a dataset name (e.g.
    scifact) or an ir_datasets id (irds:beir/scifact/test). The index is built beside OUT and moved into place only when complete.
    """
    from regard.data.corpus import Corpus
    from regard.indexing.index import Index

    source = Corpus(corpus, fmt=fmt) if fmt else corpus
    if kind == "bm25":
        params = dict(backend=backend, k1=k1, b=b)
    elif kind == "ngram":
        # The n-gram index is in a causal LM's tokens: --model names that LM (default SmolLM2-135M-Instruct).
        explicit = click.get_current_context().get_parameter_source("model") != click.core.ParameterSource.DEFAULT
        params = dict(model=model if explicit else None)
    elif kind in ("multivector", "muvera"):
        params = dict(model=model, precision=precision, batch_size=batch_size, device=device,
                      document_max_length=doc_max_length, query_max_length=query_max_length)
        if kind == "muvera":
            params.update(k_sim=k_sim, d_proj=d_proj or None, r_reps=r_reps, final_dimension=final_dim, seed=seed,
                          faiss_type=faiss_type, fp16=fp16)
    else:
        params = dict(model=model, faiss_type=faiss_type, fp16=fp16, precision=precision,
                      batch_size=batch_size, device=device, query_prefix=query_prefix,
                      document_prefix=document_prefix, max_length=max_length)
        if kind == "dense-chunked":
            params.update(chunk_tokens=chunk_tokens, overlap=chunk_overlap, aggregate=aggregate, top_chunks=top_chunks)
    index = Index.build(source, out, kind=kind, overwrite=overwrite, ray=ray, workers=workers,
                        gpus_per_worker=gpus_per_worker, cpus_per_worker=cpus_per_worker, **params)
    m = index.manifest
    skipped = f", {m.skipped_empty_documents} empty skipped" if m.skipped_empty_documents else ""
    click.echo(f"built {m.kind} index ({m.backend}) of {m.document_count} documents{skipped} "
               f"in {m.build_seconds:.1f}s: {index.folder}")
