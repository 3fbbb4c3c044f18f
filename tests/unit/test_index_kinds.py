"""Index kinds are declared once: Index.build, Index.retriever, `regard index` and configs derive from it."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from regard.cli.main import cli
from regard.data.types import Document, Query, Run
from regard.errors import ParameterError, RegardError
from regard.indexing.builders import BuildResult
from regard.kinds import KINDS, Index, IndexKind, index_kind, register
from regard.pipeline import Retriever

SRC = Path(__file__).resolve().parents[2] / "src" / "regard"


def test_every_kind_declares_typed_build_and_search_parameters():
    assert set(KINDS) == {"bm25", "dense", "dense-chunked", "multivector", "muvera", "ngram"}
    muvera = {p.name: p for p in index_kind("muvera").build_parameters}
    assert (muvera["k_sim"].kind, muvera["k_sim"].default) == (int, 5)
    assert muvera["d_proj"].optional and muvera["faiss_type"].cli_flag == "--faiss"
    assert {p.name for p in index_kind("muvera").search_parameters} >= {"candidates", "rerank", "ef_search"}
    chunked = {p.name for p in index_kind("dense-chunked").build_parameters}
    assert {"chunk_tokens", "overlap", "faiss_type", "precision", "query_prefix"} <= chunked  # forwarded too


def test_a_misspelt_build_parameter_is_refused_before_anything_is_written(tmp_path):
    docs = [Document("d1", "protein folding")]
    with pytest.raises(ParameterError, match="unknown muvera index parameter 'k_simm'; did you mean 'k_sim'") as err:
        Index.build(docs, tmp_path / "idx", kind="muvera", k_simm=5)
    assert err.value.parameter == "k_simm"
    with pytest.raises(ParameterError, match="'backend' must be one of lucene, bm25s"):
        Index.build(docs, tmp_path / "idx", kind="bm25", backend="elastic")
    with pytest.raises(RegardError, match="unknown index kind 'bm52'; did you mean 'bm25'"):
        Index.build(docs, tmp_path / "idx", kind="bm52")
    assert list(tmp_path.iterdir()) == []


def test_retriever_options_are_checked(tmp_path):
    index = Index.build([Document("d1", "protein folding")], tmp_path / "idx", kind="bm25", backend="bm25s")
    with pytest.raises(ParameterError, match="unknown bm25 retriever parameter 'k_1'; did you mean 'k1'"):
        index.retriever(k_1=1.2)
    with pytest.raises(ParameterError, match="'threads' must be an integer"):
        index.retriever(threads="two")


def test_the_command_line_has_an_option_for_every_build_parameter_and_refuses_foreign_ones(tmp_path):
    from regard.cli.index_cmd import command

    flags = {opt for param in command.params for opt in param.opts}
    for kind in KINDS.values():
        for param in kind.build_parameters:
            if param.kind is not object:  # Python-only values (scale_out: set by --ray)
                assert param.cli_flag in flags, (kind.name, param.name)
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"_id": "d1", "text": "protein folding"}) + "\n")
    result = CliRunner().invoke(cli, ["index", str(corpus), "--kind", "bm25", "--backend", "bm25s", "--k-sim", "4",
                                      "--out", str(tmp_path / "idx")])
    assert result.exit_code == 2 and "--k-sim does not apply to --kind bm25" in result.output
    assert not (tmp_path / "idx").exists()
    result = CliRunner().invoke(cli, ["index", str(corpus), "--backend", "bm25s", "--k1", "1.2", "--out",
                                      str(tmp_path / "idx")])
    assert result.exit_code == 0, result.output
    assert Index.open(tmp_path / "idx").manifest.parameters["k1"] == 1.2


class EchoRetriever(Retriever):
    """A test kind's stage: every document, scored by how often the query's first word occurs in it."""

    def __init__(self, index, k: int = 1000, boost: float = 1.0):
        self.index, self.k, self.boost, self.name = index, k, boost, index.name

    def retrieve_run(self, queries: list[Query], run: Run | None) -> Run:
        counts = json.loads((self.index.folder / "counts.json").read_text())
        return Run({q.id: [(d, self.boost * c.get(q.text.split()[0], 0)) for d, c in counts.items()][:self.k]
                    for q in queries})


def build_word_counts(staging: Path, docs, fingerprint: str, lowercase: bool = True) -> BuildResult:
    """A test kind's payload: word counts per document."""
    counts = {}
    for doc in docs:
        words = (doc.text.lower() if lowercase else doc.text).split()
        counts[doc.id] = {w: words.count(w) for w in words}
    (staging / "counts.json").write_text(json.dumps(counts))
    return BuildResult(backend="json", parameters={"lowercase": lowercase})


def test_a_new_kind_is_one_declaration_and_one_registration(tmp_path):
    kind = IndexKind(name="word-counts", summary="test kind", builder=build_word_counts,
                     retriever=f"{__name__}:EchoRetriever", help={"lowercase": "Fold case."})
    register(kind)
    try:
        docs = [Document("d1", "Protein protein folding"), Document("d2", "protein design")]
        index = Index.build(docs, tmp_path / "wc", kind="word-counts", lowercase=True)
        assert index.manifest.kind == "word-counts" and index.manifest.parameters == {"lowercase": True}
        run = index.retriever(boost=2.0)([Query("q", "protein")])
        assert run["q"] == [("d1", 4.0), ("d2", 2.0)]
        with pytest.raises(ParameterError, match="'lowercase' must be true or false"):
            Index.build(docs, tmp_path / "wc2", kind="word-counts", lowercase="yes")
    finally:
        KINDS.pop("word-counts")


def test_storage_and_stages_never_import_the_kinds_layer_or_later_steps():
    # The flow: data -> encoders -> indexing -> kinds -> retrieval -> rerank -> eval -> experiments -> cli
    # (retrieval stages receive what they read, never the kinds layer that opens them).
    flow = ["data", "encoders", "indexing", "kinds", "retrieval", "rerank", "eval", "experiments", "cli"]
    later = {step: tuple(f"regard.{after}" for after in flow[position + 1:]) for position, step in enumerate(flow)}
    later["retrieval"] += ("regard.kinds",)
    for step in flow[:flow.index("experiments")]:  # the pipeline expression parser builds stages: experiments' level
        later[step] += ("regard.pipeline_spec",)
    for package, forbidden in later.items():
        for path in (SRC / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                for name in names:
                    assert not name.startswith(forbidden), f"{path.relative_to(SRC)} imports {name}"
