"""Runs, stages and their composition, fusion, run-file replay and pipeline expressions."""

from __future__ import annotations

import itertools

import pytest

from helpers import trec_run_text, write_file
from regard.data import Query, Run, read_trec_run
from regard.pipeline import Cutoff, Sequence, Stage, as_queries
from regard.pipeline_spec import PipelineParser, PipelineSpecError, tokenize
from regard.retrieval.fusion import (
    ReciprocalRankFusion,
    WeightedScoreFusion,
    reciprocal_rank_fusion,
    weighted_score_fusion,
)
from regard.retrieval.run_file import RunFile

QUERIES = [Query("q1", "first"), Query("q2", "second")]


class Fixed(Stage):
    """A fake retriever: returns a fixed run for the queries asked and records what it was given."""

    def __init__(self, name: str, scores: dict[str, dict[str, float]]):
        self.name = name
        self.run = Run.from_scores(scores)
        self.seen: list[tuple[list[str], Run | None]] = []

    def transform(self, queries, run):
        self.seen.append(([q.id for q in queries], run))
        return Run({q.id: self.run[q.id] for q in queries if q.id in self.run})


class Reverse(Stage):
    """A fake reranker: reverses the incoming ranking (scores 0, 1, 2, ... from the old top)."""

    name = "reverse"

    def transform(self, queries, run):
        if run is None:
            raise ValueError("reverse needs a run")
        return Run({q: [(d, float(i)) for i, (d, _) in enumerate(hits)] for q, hits in run.items()})


A_SCORES = {"q1": {"d1": 3.0, "d2": 2.0, "d3": 1.0}, "q2": {"d7": 1.0}}
B_SCORES = {"q1": {"d3": 30.0, "d1": 20.0, "d4": 10.0}}
C_SCORES = {"q1": {"d4": 0.9, "d5": 0.1}, "q2": {"d8": 5.0}}


@pytest.fixture
def a():
    return Fixed("a", A_SCORES)


@pytest.fixture
def b():
    return Fixed("b", B_SCORES)


@pytest.fixture
def c():
    return Fixed("c", C_SCORES)


# --- Run ---------------------------------------------------------------------------------------------------


def test_run_orders_by_score_then_docid_descending():
    run = Run({"q": [("b", 1.0), ("d", 0.5), ("a", 1.0), ("c", 2.0), ("e", 1.0)]})
    assert run["q"] == [("c", 2.0), ("e", 1.0), ("b", 1.0), ("a", 1.0), ("d", 0.5)]
    assert run.docids("q") == ["c", "e", "b", "a", "d"]


def test_run_ordering_does_not_depend_on_input_order():
    hits = [("b", 1.0), ("a", 1.0), ("c", 2.0), ("d", -1.0)]
    runs = {tuple(Run({"q": order})["q"]) for order in itertools.permutations(hits)}
    assert runs == {(("c", 2.0), ("b", 1.0), ("a", 1.0), ("d", -1.0))}


def test_run_normalises_types_and_builds_from_scores():
    run = Run({"q": [(7, 1), ("x", "2.5")]})
    assert run["q"] == [("x", 2.5), ("7", 1.0)]
    assert Run.from_scores({"q": {"7": 1.0, "x": 2.5}}) == run
    assert run.to_dict() == {"q": {"x": 2.5, "7": 1.0}}


def test_run_mapping_interface():
    run = Run.from_scores({"q1": {"d": 1.0}, "q2": {}})
    assert len(run) == 2 and list(run) == ["q1", "q2"] and run.qids() == ["q1", "q2"]
    assert "q1" in run and "q3" not in run
    assert run.get("q3") is None and run.get("q3", []) == []
    assert run.docids("q3") == []
    assert run["q2"] == []
    assert run != {"q1": {"d": 1.0}, "q2": {}}  # only a Run equals a Run
    assert repr(run) == "Run(2 queries, depth <= 1)"


def test_run_cut_keeps_the_top_k_and_leaves_the_original():
    run = Run.from_scores({"q1": {"d1": 3.0, "d2": 2.0, "d3": 1.0}, "q2": {"d9": 1.0}})
    top = run.cut(2)
    assert top == Run({"q1": [("d1", 3.0), ("d2", 2.0)], "q2": [("d9", 1.0)]})
    assert run.docids("q1") == ["d1", "d2", "d3"]
    assert run.cut(10) == run


# --- queries ---------------------------------------------------------------------------------------------


def test_as_queries_accepts_text_query_list_and_mapping():
    q = Query("q9", "nine")
    assert as_queries("free text") == [Query("0", "free text")]
    assert as_queries(q) == [q]
    assert as_queries([q, Query("q1", "one")]) == [q, Query("q1", "one")]
    assert as_queries(iter([q])) == [q]
    assert as_queries({1: "one", "b": "two"}) == [Query("1", "one"), Query("b", "two")]
    assert as_queries([]) == []


def test_as_queries_rejects_other_items():
    with pytest.raises(TypeError, match="expected Query objects, got str"):
        as_queries(["just", "strings"])


def test_stage_call_and_search(a):
    assert a("free text") == Run()  # query id "0" is not in the fixed run
    assert a({"q1": "x"}) == Run.from_scores({"q1": A_SCORES["q1"]})
    stage = Fixed("z", {"0": {"d1": 1.0, "d2": 3.0, "d3": 2.0}})
    assert stage.search("anything", k=2) == [("d2", 3.0), ("d3", 2.0)]
    assert a.search("no such query") == []


# --- composition -------------------------------------------------------------------------------------------


def test_then_passes_the_run_along(a):
    pipeline = a >> Reverse()
    assert isinstance(pipeline, Sequence)
    assert pipeline.name == "a >> reverse"
    assert pipeline(QUERIES) == Run({"q1": [("d3", 2.0), ("d2", 1.0), ("d1", 0.0)], "q2": [("d7", 0.0)]})
    assert a.seen == [(["q1", "q2"], None)]


def test_then_flattens_nested_sequences(a, b, c):
    pipeline = (a >> b) >> (c >> Reverse())
    assert pipeline.stages == [a, b, c, pipeline.stages[3]]
    assert pipeline.name == "a >> b >> c >> reverse"
    pipeline(QUERIES)
    # Each stage sees the previous stage's run.
    assert b.seen[0][1] == a.run
    assert c.seen[0][1] == Run.from_scores({"q1": B_SCORES["q1"]})


def test_cutoff_operator(a):
    pipeline = a % 2
    assert isinstance(pipeline, Sequence)
    assert [type(s) for s in pipeline.stages] == [Fixed, Cutoff]
    assert pipeline.stages[1].k == 2
    assert pipeline.name == "a % 2"
    assert pipeline(QUERIES) == Run({"q1": [("d1", 3.0), ("d2", 2.0)], "q2": [("d7", 1.0)]})


def test_cutoff_then_rerank(a):
    pipeline = a % 2 >> Reverse()
    assert pipeline.name == "a % 2 >> reverse"
    assert pipeline(QUERIES).docids("q1") == ["d2", "d1"]


def test_cutoff_needs_an_incoming_run():
    with pytest.raises(ValueError, match="needs an incoming run"):
        Cutoff(5)(QUERIES)
    with pytest.raises(ValueError, match="needs an incoming run"):
        (Cutoff(5) >> Reverse())(QUERIES)


@pytest.mark.parametrize("k", [0, -3])
def test_cutoff_must_be_positive(a, k):
    with pytest.raises(ValueError, match=f"at least 1, got {k}"):
        a % k


def test_or_builds_reciprocal_rank_fusion(a, b):
    fusion = a | b
    assert isinstance(fusion, ReciprocalRankFusion)
    assert fusion.stages == [a, b]
    assert fusion.name == "a | b"
    assert fusion(QUERIES) == reciprocal_rank_fusion([a.run, b.run])


def test_or_flattens_chains(a, b, c):
    for fusion in (a | b | c, a | (b | c)):
        assert isinstance(fusion, ReciprocalRankFusion)
        assert fusion.stages == [a, b, c]
        assert fusion.name == "a | b | c"
    assert (a | b | c)(QUERIES) == reciprocal_rank_fusion([a.run, b.run, c.run])


def test_or_keeps_a_fusion_with_other_parameters_whole(a, b, c):
    inner = ReciprocalRankFusion(a, b, k=10)
    fusion = inner | c
    assert fusion.stages == [inner, c]


def test_fusion_every_child_reads_the_same_run(a):
    pipeline = a % 1 >> (Reverse() | Reverse())
    assert pipeline.name == "a % 1 >> (reverse | reverse)"
    assert pipeline(QUERIES).docids("q1") == ["d1"]


def test_fusion_inside_sequence_is_parenthesised(a, b):
    assert ((a | b) % 2).name == "(a | b) % 2"


# --- fusion functions against hand-computed values ----------------------------------------------------------


def test_reciprocal_rank_fusion_values():
    run1 = Run({"q1": [("d1", 9.0), ("d2", 8.0), ("d3", 7.0)], "q2": [("x", 1.0)]})
    run2 = Run({"q1": [("d3", 0.3), ("d1", 0.2), ("d4", 0.1)]})
    fused = reciprocal_rank_fusion([run1, run2])
    expected = {
        "d1": 1 / 61 + 1 / 62,  # rank 1 in run1, rank 2 in run2
        "d3": 1 / 63 + 1 / 61,
        "d2": 1 / 62,
        "d4": 1 / 63,
    }
    assert fused.docids("q1") == ["d1", "d3", "d2", "d4"]
    assert dict(fused["q1"]) == pytest.approx(expected, abs=1e-15)
    assert fused["q2"] == [("x", pytest.approx(1 / 61))]


def test_reciprocal_rank_fusion_k_and_depth():
    run1 = Run({"q": [("d1", 2.0), ("d2", 1.0)]})
    run2 = Run({"q": [("d2", 2.0), ("d3", 1.0)]})
    fused = reciprocal_rank_fusion([run1, run2], k=1, depth=2)
    assert fused.docids("q") == ["d2", "d1"]
    assert dict(fused["q"]) == pytest.approx({"d2": 1 / 3 + 1 / 2, "d1": 1 / 2})


def test_reciprocal_rank_fusion_ignores_raw_scores():
    run = Run({"q": [("a", 1000.0), ("b", 0.001)]})
    rescaled = Run({"q": [("a", 2.0), ("b", 1.0)]})
    assert reciprocal_rank_fusion([run]) == reciprocal_rank_fusion([rescaled])


def test_weighted_score_fusion_values():
    run1 = Run({"q": [("d1", 10.0), ("d2", 6.0), ("d3", 2.0)]})  # normalised: 1, 0.5, 0
    run2 = Run({"q": [("d2", 0.9), ("d4", 0.6), ("d1", 0.3)]})  # normalised: 1, 0.5, 0
    fused = weighted_score_fusion([run1, run2], weights=[1.0, 2.0])
    assert fused.docids("q") == ["d2", "d1", "d4", "d3"]  # d1 and d4 tie at 1.0: docid order
    assert dict(fused["q"]) == pytest.approx({
        "d2": 1.0 * 0.5 + 2.0 * 1.0,
        "d1": 1.0 * 1.0 + 2.0 * 0.0,
        "d4": 2.0 * 0.5,  # absent from run1: adds 0
        "d3": 1.0 * 0.0,
    })


def test_weighted_score_fusion_default_weights_and_flat_runs():
    run1 = Run({"q": [("d1", 5.0), ("d2", 5.0)], "r": [("only", -3.0)]})  # no spread: every doc counts 1
    run2 = Run({"q": [("d2", 4.0), ("d3", 2.0), ("d1", 1.0)]})  # normalised: 1, 1/3, 0
    fused = weighted_score_fusion([run1, run2], depth=2)
    assert dict(fused["q"]) == pytest.approx({"d2": 2.0, "d1": 1.0})
    assert fused["r"] == [("only", 1.0)]


def test_weighted_score_fusion_needs_one_weight_per_run():
    with pytest.raises(ValueError, match="2 runs but 1 weights"):
        weighted_score_fusion([Run(), Run()], weights=[1.0])


def test_weighted_score_fusion_stage(a, b):
    stage = WeightedScoreFusion([a, b], weights=[0.5, 2])
    assert stage.name == "0.5*a + 2*b"
    assert stage(QUERIES) == weighted_score_fusion([a.run, b.run], [0.5, 2])
    with pytest.raises(ValueError, match="2 stages but 3 weights"):
        WeightedScoreFusion([a, b], weights=[1, 2, 3])


# --- run files --------------------------------------------------------------------------------------------


def test_run_file_replays_only_the_queries_asked(a):
    stage = RunFile(a.run)
    assert stage.name == "run"
    assert stage([Query("q2", ""), Query("q404", "")]) == Run({"q2": [("d7", 1.0)]})
    assert stage(QUERIES, Run({"q1": [("zz", 1.0)]})) == a.run  # an incoming run is ignored


def test_run_file_from_a_trec_file(tmp_path):
    path = write_file(tmp_path / "bm25.trec", trec_run_text([("q1", "d1", 2.0), ("q1", "d2", 1.0), ("q3", "d3", 1.0)]))
    stage = RunFile(path)
    assert stage.name == "bm25.trec"
    assert RunFile(path, name="bm25").name == "bm25"
    assert stage([Query("q1", "")]) == Run({"q1": [("d1", 2.0), ("d2", 1.0)]})


# --- pipeline expressions ---------------------------------------------------------------------------------


@pytest.fixture
def run_files(tmp_path, monkeypatch):
    """a.trec, b.trec and c.trec in the working directory; returns their runs."""
    monkeypatch.chdir(tmp_path)
    runs = {"a.trec": Run.from_scores(A_SCORES), "b.trec": Run.from_scores(B_SCORES),
            "c.trec": Run.from_scores(C_SCORES)}
    for name, run in runs.items():
        write_file(tmp_path / name, trec_run_text((q, d, s) for q, hits in run.items() for d, s in hits))
        assert read_trec_run(name) == run
    return runs


@pytest.mark.parametrize("text, tokens", [
    ("a % 100 >> b", ["a", "%", "100", ">>", "b"]),
    ("(x|y)%5", ["(", "x", "|", "y", ")", "%", "5"]),
    ("  idx/bm25  ", ["idx/bm25"]),
    ("", []),
])
def test_tokenize(text, tokens):
    assert tokenize(text) == tokens


def test_parse_a_run_file(run_files):
    stage = PipelineParser().parse("a.trec")
    assert isinstance(stage, RunFile)
    assert stage.name == "a.trec"
    assert stage(QUERIES) == run_files["a.trec"]


def test_parse_fusion(run_files):
    stage = PipelineParser().parse("a.trec | b.trec")
    assert isinstance(stage, ReciprocalRankFusion)
    assert [s.name for s in stage.stages] == ["a.trec", "b.trec"]
    assert stage(QUERIES) == reciprocal_rank_fusion([run_files["a.trec"], run_files["b.trec"]])


def test_parse_three_way_fusion_is_flat(run_files):
    stage = PipelineParser().parse("a.trec|b.trec | c.trec")
    assert isinstance(stage, ReciprocalRankFusion)
    assert [s.name for s in stage.stages] == ["a.trec", "b.trec", "c.trec"]


def test_parse_cutoff(run_files):
    stage = PipelineParser().parse("a.trec % 2")
    assert isinstance(stage, Sequence)
    assert stage.name == "a.trec % 2"
    assert stage(QUERIES) == run_files["a.trec"].cut(2)
    assert PipelineParser().parse("a.trec%2")(QUERIES) == run_files["a.trec"].cut(2)


def test_parse_parenthesised_fusion_then_cutoff(run_files):
    stage = PipelineParser().parse("(a.trec | b.trec) % 1")
    fused = reciprocal_rank_fusion([run_files["a.trec"], run_files["b.trec"]])
    assert stage.name == "(a.trec | b.trec) % 1"
    assert stage(QUERIES) == fused.cut(1)
    assert stage(QUERIES).docids("q1") == ["d1"]  # 1/61 + 1/62 beats d3's 1/63 + 1/61


def test_parse_precedence_cutoff_then_sequence_then_fusion(run_files):
    stage = PipelineParser().parse("a.trec % 1 >> b.trec | c.trec % 1")
    assert isinstance(stage, ReciprocalRankFusion)
    left, right = stage.stages
    assert left.name == "a.trec % 1 >> b.trec"
    assert right.name == "c.trec % 1"


@pytest.mark.parametrize("text", ["a.trec >> b.trec", "a.trec>>b.trec"])
def test_parse_then(run_files, text):
    stage = PipelineParser().parse(text)
    assert isinstance(stage, Sequence)
    assert [s.name for s in stage.stages] == ["a.trec", "b.trec"]
    assert stage(QUERIES) == run_files["b.trec"]  # a replayed run file ignores its input


def test_parser_opens_each_operand_once(run_files):
    parser = PipelineParser()
    first = parser.parse("a.trec")
    fusion = parser.parse("a.trec | b.trec")
    assert fusion.stages[0] is first
    assert parser.indexes == {}  # run files are not indexes


def test_parse_absolute_paths(run_files, tmp_path):
    stage = PipelineParser().parse(f"{tmp_path / 'a.trec'} | {tmp_path / 'b.trec'}")
    assert stage(QUERIES) == reciprocal_rank_fusion([run_files["a.trec"], run_files["b.trec"]])


@pytest.mark.parametrize("text, message", [
    ("", "empty pipeline"),
    ("   ", "empty pipeline"),
    ("a.trec |", "ends where an index or run file was expected"),
    ("| a.trec", "unexpected '|'"),
    ("a.trec >>", "ends where an index or run file was expected"),
    ("(a.trec | b.trec", "missing ')'"),
    ("a.trec)", "unexpected ')'"),
    ("()", "unexpected ')'"),
    ("a.trec b.trec", "unexpected 'b.trec'"),
    ("a.trec %", "'%' must be followed by a number"),
    ("a.trec % x", "'%' must be followed by a number"),
    ("a.trec % -1", "'%' must be followed by a number"),
    ("a.trec % (2)", "'%' must be followed by a number"),
    ("a.trec % 0", "cutoff must be at least 1, got 0"),
    ("a.trec > b.trec", "cannot read pipeline 'a.trec > b.trec' at column 8"),
    ("missing.trec", "missing.trec: neither an index folder nor a run file"),
    ("a.trec | missing.trec", "missing.trec: neither an index folder nor a run file"),
])
def test_syntax_errors(run_files, text, message):
    with pytest.raises(PipelineSpecError) as caught:
        PipelineParser().parse(text)
    assert message in str(caught.value)


def test_bm25s_queries_without_search_terms_get_empty_rankings(tmp_path, caplog):
    from blank_queries import assert_blank_queries_get_empty_rankings
    from regard import Index
    from regard.data import Document

    docs = [Document(f"d{i}", f"protein folding {i} and the cell", "") for i in range(5)]
    index = Index.build(docs, tmp_path / "bm25", kind="bm25", backend="bm25s")
    assert_blank_queries_get_empty_rankings(index.retriever(k=3), "protein cell", caplog)
