"""Core types and the readers and writers of BEIR, TREC, JSONL and TSV files."""

from regard.data.corpus import Corpus, detect_format
from regard.data.jsonl import iter_jsonl_documents, read_jsonl_queries, write_jsonl_documents
from regard.data.trec import (
    iter_trec_documents,
    read_trec_qrels,
    read_trec_run,
    read_trec_topics,
    write_trec_run,
)
from regard.data.topics import read_qrels_file, read_queries_file
from regard.data.tsv import iter_tsv_documents, read_beir_qrels, read_tsv_queries
from regard.data.types import Document, Qrels, Query, Run

__all__ = [
    "Corpus", "Document", "Qrels", "Query", "Run", "detect_format",
    "iter_jsonl_documents", "iter_trec_documents", "iter_tsv_documents",
    "read_beir_qrels", "read_jsonl_queries", "read_qrels_file", "read_queries_file", "read_trec_qrels",
    "read_trec_run", "read_trec_topics",
    "read_tsv_queries", "write_jsonl_documents", "write_trec_run",
]
