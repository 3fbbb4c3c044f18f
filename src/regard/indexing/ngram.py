"""The ``ngram`` index kind: the corpus in a causal LM's tokens, in an :class:`FMIndex` (generative retrieval)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from regard.errors import BadIndexError
from regard.indexing.builders import BuildResult
from regard.indexing.docstore import DocStore
from regard.indexing.fmindex import NGRAM_DIR, FMIndex, document_text, write_fmindex

_BATCH = 256


def load_tokenizer(model: str):
    """The tokenizer of causal LM ``model`` (hub name, alias or folder), resolved without the network."""
    from transformers import AutoTokenizer

    from regard.lm.loading import resolve_causal_lm

    resolved = resolve_causal_lm(model)
    return resolved, AutoTokenizer.from_pretrained(resolved.location)


def tokenizer_fingerprint(tokenizer) -> str:
    """A short hash of the tokenizer's vocabulary: indexes and retrievers must agree on token ids."""
    vocabulary = sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])
    return hashlib.sha256(json.dumps(vocabulary, ensure_ascii=False).encode("utf-8")).hexdigest()[:16]


class _CorpusTokens:
    """Token ids of every document's :func:`document_text`, in index order, tokenized in batches;
    ``bytes`` counts the UTF-8 bytes of the texts seen so far."""

    def __init__(self, tokenizer, docs: DocStore):
        self.tokenizer, self.docs, self.bytes = tokenizer, docs, 0

    def _encode(self, batch: list[str]) -> list[list[int]]:
        self.bytes += sum(len(text.encode("utf-8")) for text in batch)
        return self.tokenizer(batch, add_special_tokens=False)["input_ids"]

    def __iter__(self):
        batch = []
        for doc in self.docs:
            batch.append(document_text(doc.title, doc.text))
            if len(batch) == _BATCH:
                yield from self._encode(batch)
                batch = []
        if batch:
            yield from self._encode(batch)


def build_ngram(staging: Path, docs: DocStore, fingerprint: str, model: str | None = None) -> BuildResult:
    """Tokenize the corpus with ``model``'s tokenizer and index it in a suffix array (``ngram/``), streamed."""
    from regard.lm.loading import DEFAULT_INSTRUCT_LLM

    resolved, tokenizer = load_tokenizer(model or DEFAULT_INSTRUCT_LLM)
    meta = {"tokenizer": resolved.name, "tokenizer_fingerprint": tokenizer_fingerprint(tokenizer),
            "lowercase": True, "corpus_fingerprint": fingerprint}
    corpus = _CorpusTokens(tokenizer, docs)
    index = write_fmindex(corpus, staging / NGRAM_DIR, meta=meta)
    params = {
        "tokenizer_fingerprint": meta["tokenizer_fingerprint"], "lowercase": True,
        "text": "' ' + title + ' ' + text, lower-cased", "token_count": index.token_count,
        "index_bytes": index.nbytes, "corpus_bytes": corpus.bytes,
        "index_to_corpus_ratio": round(index.nbytes / max(corpus.bytes, 1), 3),
    }
    return BuildResult(backend="suffix-array", parameters=params, model=resolved.name,
                       model_revision=resolved.revision)


def open_ngram_index(folder: Path) -> FMIndex:
    """The FMIndex of an ``ngram`` index folder."""
    path = Path(folder) / NGRAM_DIR
    if not path.is_dir():
        raise BadIndexError(f"{folder}: not an ngram index (no {NGRAM_DIR}/ folder)")
    return FMIndex.load(path)
