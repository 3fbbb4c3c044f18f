"""PyTerrier interop on a real (bm25s) index, pipeline operands with parameters, and dense prefixes on the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from regard import Index, evaluate
from regard.cli.main import cli
from regard.data.types import Document, Query
from regard.pipeline_spec import PipelineParser, PipelineSpecError, split_parameters

DOCS = [Document(f"d{i}", f"document {i} about topic {i % 5} and subject {i % 3}", f"title {i}") for i in range(30)]
QUERIES = [Query(f"q{i}", f"topic {i % 5} subject {i % 3}") for i in range(8)]
QRELS = {f"q{i}": {f"d{i}": 1, f"d{i + 15}": 1} for i in range(8)}


@pytest.fixture(scope="module")
def bm25s_index(tmp_path_factory):
    return Index.build(DOCS, tmp_path_factory.mktemp("idx") / "bm25s", kind="bm25", backend="bm25s")


def test_operand_parameters_are_parsed_and_checked(bm25s_index):
    assert split_parameters("bm25(k1=1.2, b=0.75):idx/x") == ("bm25", {"k1": 1.2, "b": 0.75}, "idx/x")
    assert split_parameters("ce(batch_size=16,precision=fp32):m") == ("ce", {"batch_size": 16, "precision": "fp32"}, "m")
    assert split_parameters("idx/plain") == (None, {}, "idx/plain")
    parser = PipelineParser(k=5)
    folder = str(bm25s_index.folder)
    stage = parser.parse(f"bm25(k=3):{folder} | {folder}")
    assert all(len(ranking) == 3 for _, ranking in parser.open_operand(f"bm25(k=3):{folder}")(QUERIES).items())
    assert stage(QUERIES)  # fused with the plain operand
    with pytest.raises(PipelineSpecError, match="is a 'bm25' index"):
        parser.parse(f"dense(k=3):{folder}")
    with pytest.raises(PipelineSpecError, match="unknown bm25 retriever parameter 'kk'"):
        parser.parse(f"bm25(kk=3):{folder}")
    with pytest.raises(PipelineSpecError, match="bm25s backend fixes k1 and b"):
        parser.parse(f"bm25(k1=1.5):{folder}")
    with pytest.raises(PipelineSpecError, match="key=value"):
        parser.parse(f"bm25(3):{folder}")


def test_to_pyterrier_from_pyterrier_round_trip_and_experiment(bm25s_index):
    pt = pytest.importorskip("pyterrier", reason="the pyterrier extra: pip install 'regard[pyterrier]'")
    import pandas as pd
    from ir_measures import AP, nDCG

    from regard.pyterrier import from_pyterrier, to_pyterrier

    bm25 = bm25s_index.retriever(k=10)
    transformer = to_pyterrier(bm25)
    assert isinstance(transformer, pt.Transformer)
    topics = pd.DataFrame({"qid": [q.id for q in QUERIES], "query": [q.text for q in QUERIES]})
    results = transformer(topics)
    assert list(results.columns) == ["qid", "query", "docno", "score", "rank"]
    first = results[results.qid == "q0"]
    assert list(first["rank"]) == list(range(len(first))) and first["score"].is_monotonic_decreasing
    assert from_pyterrier(transformer)(QUERIES) == bm25(QUERIES)  # through DataFrames and back

    # A regard reranker inside a PyTerrier pipeline reads the incoming docno rows.
    by_number = from_pyterrier(pt.apply.doc_score(lambda row: int(row["docno"][1:])))  # highest docid first
    reranked = (transformer % 5 >> to_pyterrier(by_number))(topics)
    top5 = results[results["rank"] < 5]
    assert set(zip(reranked.qid, reranked.docno)) == set(zip(top5.qid, top5.docno))
    assert reranked[reranked.qid == "q0"].docno.iloc[0] == max(top5[top5.qid == "q0"].docno, key=lambda d: int(d[1:]))

    qrels = pd.DataFrame([(q, d, g) for q, docs in QRELS.items() for d, g in docs.items()],
                         columns=["qid", "docno", "label"])
    table = pt.Experiment([transformer, to_pyterrier(bm25 % 2)], topics, qrels, [nDCG @ 10, AP],
                          names=["bm25", "bm25 % 2"])
    expected = evaluate(bm25(QUERIES), QRELS, ["ndcg@10", "map"])
    row = table[table.name == "bm25"].iloc[0]
    assert row["nDCG@10"] == pytest.approx(expected["ndcg@10"]) and row["AP"] == pytest.approx(expected["map"])
    cut = evaluate((bm25 % 2)(QUERIES), QRELS, ["ndcg@10"])
    assert table[table.name == "bm25 % 2"].iloc[0]["nDCG@10"] == pytest.approx(cut["ndcg@10"])


def test_index_records_dense_prefixes_and_uses_them_at_search_time(tmp_path):
    corpus = tmp_path / "docs.jsonl"
    corpus.write_text("".join(json.dumps({"_id": d.id, "text": d.text}) + "\n" for d in DOCS[:6]))
    result = CliRunner().invoke(cli, ["index", str(corpus), "--kind", "dense", "--query-prefix", "query: ",
                                      "--document-prefix", "passage: ", "--max-length", "64", "--out",
                                      str(tmp_path / "dense")])
    assert result.exit_code == 0, result.output
    index = Index.open(tmp_path / "dense")
    params = index.manifest.parameters
    assert (params["query_prefix"], params["document_prefix"], params["max_length"]) == ("query: ", "passage: ", 64)
    retriever = index.retriever(k=3)
    plain = retriever.encoder.encode(["query: topic 1 subject 1"])
    assert np.allclose(retriever.encoder.encode_queries(["topic 1 subject 1"]), plain, atol=1e-5)
    stored = index.retriever(k=6)._faiss.reconstruct(0)
    assert np.allclose(stored, retriever.encoder.encode(["passage: " + DOCS[0].text])[0], atol=2e-2)
