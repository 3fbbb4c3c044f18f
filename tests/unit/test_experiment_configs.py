"""Pipeline configs: parsing with file/line/field errors, the stage registry, and stage-output caching."""

from __future__ import annotations

import json
import time

import pytest

from regard.data.types import Run
from regard.experiments.build import PipelineBuilder
from regard.experiments.config import load_config, parse_config
from regard.experiments.runner import Workspace, run_config
from regard.experiments.stage_cache import Ledger, StageStore
from regard.pipeline import Stage
from regard.experiments.stages import ConfigError, StageContext, register_stage, registered_stages

CALLS: list[str] = []


class _Counting(Stage):
    """Scores document d{i} by -i for every query (after sleeping), counting its calls."""

    def __init__(self, label: str, docs: int, sleep: float):
        self.label, self.docs, self.sleep, self.name = label, docs, sleep, label

    def transform(self, queries, run):
        CALLS.append(self.label)
        time.sleep(self.sleep)
        return Run({q.id: [(f"d{i}", -float(i) - len(self.label)) for i in range(self.docs)] for q in queries})


@register_stage("counting", replace=True)
def _counting(params, context):
    """A test stage registered from outside the registry module."""
    stage = _Counting(params.get("label", str, "c"), params.positive("docs", 30), params.get("sleep", float, 0.0))
    params.finish()
    return stage


class _NoIndexes:
    def get(self, dataset, kind, **params):
        raise AssertionError("a bad config must fail before any index is built")


def _error(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        config = parse_config(text, "cfg.yaml")
        context = StageContext(dataset=None, indexes=_NoIndexes())
        PipelineBuilder(context, None, Ledger(), "root").build_root(config.pipeline, config.where)
    return str(caught.value)


@pytest.mark.parametrize("text, expected", [
    ("pipeline: [{bm25: {}}]\nstages: 3\n", "cfg.yaml:2 (field 'stages'): unknown key 'stages'"),
    ("name: x\n", "cfg.yaml (field 'pipeline'): missing 'pipeline'"),
    ("pipeline:\n  - bm25: {}\n  - rerankr: {}\n", "cfg.yaml:3 (field 'pipeline[1].rerankr'): unknown stage type 'rerankr'"),
    ("pipeline:\n  - bm25:\n      k: 10\n      kk: 3\n", "cfg.yaml:4 (field 'pipeline[0].bm25.kk'): unknown parameter 'kk'"),
    ("pipeline:\n  - bm25: {k: many}\n", "(field 'pipeline[0].bm25.k'): expected int, got str 'many'"),
    ("pipeline:\n  - bm25: {}\n  - cutoff: 0\n", "cfg.yaml:3 (field 'pipeline[1].cutoff.k'): must be at least 1"),
    ("pipeline:\n  - bm25: {backend: elastic}\n", "expected one of lucene, bm25s, got 'elastic'"),
    ("pipeline:\n  - {bm25: {}, dense: {}}\n", "cfg.yaml:2 (field 'pipeline[0]'): a stage is written as a one-key"),
    ("pipeline: []\n", "(field 'pipeline'): an empty list of stages"),
    ("pipeline:\n  - rrf: {of: [{bm25: {}}]}\n", "(field 'pipeline[0].rrf.of'): a fusion needs at least two inputs"),
    ("seed: one\npipeline: [{bm25: {}}]\n", "cfg.yaml:1 (field 'seed'): expected int"),
    ("pipeline:\n  - bm25: {}\npipeline: []\n", "cfg.yaml:3 (field 'pipeline'): duplicate key 'pipeline' (first on line 1)"),
    ("pipeline:\n  - bm25: {k: [1,\n", "cfg.yaml:3: not valid YAML"),
    ("pipeline:\n  - bm25: 5\n", "(field 'pipeline[0].bm25'): expected a mapping of parameters, got 5"),
    ("pipeline:\n  - run-file: /no/such.trec\n", "(field 'pipeline[0].run-file.path'): no such run file: /no/such.trec"),
    ("pipeline:\n  - weighted-fusion: {weights: [1], of: [{bm25: {}}, {dense: {}}]}\n",
     "(field 'pipeline[0].weighted-fusion.weights'): expected 2 numbers, one per input, got [1]"),
    ("pipeline:\n  - dense:\n      faiss: ivfpq\n      fp16: true\n",
     "cfg.yaml:4 (field 'pipeline[0].dense.fp16'): fp16 applies to flat and hnsw FAISS indexes, not ivfpq"),
    ("pipeline:\n  - index: {kind: colbert}\n", "(field 'pipeline[0].index.kind'): unknown index kind 'colbert'"),
    ("pipeline:\n  - index:\n      kind: bm25\n      build: {bm25_k1: 2}\n",
     "cfg.yaml:4 (field 'pipeline[0].index.build.bm25_k1'): unknown bm25 index parameter 'bm25_k1'"),
    # Kinds whose builders forward parameters: the typo is still caught before anything is built.
    ("pipeline:\n  - index:\n      kind: muvera\n      build: {k_simm: 5}\n",
     "cfg.yaml:4 (field 'pipeline[0].index.build.k_simm'): unknown muvera index parameter 'k_simm'; "
     "did you mean 'k_sim'?"),
    ("pipeline:\n  - index:\n      kind: dense-chunked\n      build: {chunk_tokens: many}\n",
     "(field 'pipeline[0].index.build.chunk_tokens'): dense-chunked index parameter 'chunk_tokens' must be an integer"),
    ("pipeline:\n  - index:\n      kind: muvera\n      search: {candidate: 100}\n",
     "(field 'pipeline[0].index.search.candidate'): unknown muvera retriever parameter 'candidate'; "
     "did you mean 'candidates'?"),
    ("pipeline:\n  - index: {kind: muvra}\n", "unknown index kind 'muvra'; did you mean 'muvera'?"),
])
def test_bad_configs_name_file_line_and_field(text, expected):
    assert expected in _error(text)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "absent.yaml")


def test_hash_ignores_name_and_description_but_not_parameters():
    a = parse_config("name: a\ndescription: one\npipeline: [{bm25: {k: 10}}]\n")
    b = parse_config("name: b\npipeline:\n  - bm25:\n      k: 10\n")
    c = parse_config("pipeline: [{bm25: {k: 11}}]\n")
    assert a.hash == b.hash != c.hash
    assert parse_config("seed: 1\npipeline: [{bm25: {k: 10}}]\n").hash != a.hash


def test_built_in_types_are_registered_and_documented():
    stages = registered_stages()
    for name in ("bm25", "dense", "cross-encoder", "rrf", "weighted-fusion", "cutoff", "run-file", "counting"):
        assert name in stages and stages[name].description
    assert stages["cutoff"].shorthand == "k"
    with pytest.raises(ValueError, match="already registered"):
        register_stage("bm25", lambda params, context: None)


def _run(tiny_mirror, tmp_path, text: str, name: str = "cfg", use_cache: bool = True):
    config = parse_config(text, f"{name}.yaml", default_name=name)
    workspace = Workspace(tmp_path / "work", use_cache=use_cache)
    return run_config(config, "scifact", workspace, ["ndcg@10", "recall@100"], split="train"), workspace


def test_second_run_reuses_outputs_and_reports_identical_metrics(tiny_mirror, tmp_path):
    CALLS.clear()
    text = "pipeline:\n  - counting: {label: first, sleep: 0.05}\n  - cutoff: 10\n"
    first, _ = _run(tiny_mirror, tmp_path, text)
    second, _ = _run(tiny_mirror, tmp_path, text)
    assert CALLS == ["first"]
    assert first.provenance["cache"]["stage_outputs_computed"] == 2  # the stage and the cut-off
    assert second.provenance["cache"] == {**second.provenance["cache"], "stage_outputs_reused": 1,
                                          "stage_outputs_computed": 0}  # the cut-off's output; the stage is skipped
    assert second.result.run == first.result.run
    assert second.result.evaluation.per_query == first.result.evaluation.per_query
    assert second.result.seconds == first.result.seconds >= 0.05  # the cost of computing, not of reading back


def test_prefixes_are_shared_between_configs_and_changes_recompute(tiny_mirror, tmp_path):
    CALLS.clear()
    _run(tiny_mirror, tmp_path, "pipeline: [{counting: {label: a}}]\n")
    _run(tiny_mirror, tmp_path, "pipeline: [{counting: {label: a}}, {cutoff: 5}]\n")
    assert CALLS == ["a"]
    _run(tiny_mirror, tmp_path, "pipeline: [{counting: {label: a, docs: 20}}, {cutoff: 5}]\n")
    assert CALLS == ["a", "a"]
    _run(tiny_mirror, tmp_path, "pipeline: [{counting: {label: a}}]\n", use_cache=False)
    assert CALLS == ["a", "a", "a"]


def test_fusion_inputs_are_cached_and_costs_add_up(tiny_mirror, tmp_path):
    CALLS.clear()
    fused = "pipeline:\n  - rrf:\n      of:\n        - counting: {label: x, sleep: 0.05}\n        - counting: {label: yy, sleep: 0.05}\n"
    first, _ = _run(tiny_mirror, tmp_path, fused)
    assert sorted(CALLS) == ["x", "yy"] and first.result.seconds >= 0.1
    alone, _ = _run(tiny_mirror, tmp_path, "pipeline: [{counting: {label: x, sleep: 0.05}}]\n")
    assert sorted(CALLS) == ["x", "yy"]  # the fusion's input was reused
    assert alone.result.seconds < first.result.seconds
    again, _ = _run(tiny_mirror, tmp_path, fused)
    assert again.result.seconds == first.result.seconds and again.result.run == first.result.run


def test_a_broken_cache_entry_is_recomputed(tiny_mirror, tmp_path):
    CALLS.clear()
    text = "pipeline: [{counting: {label: b}}]\n"
    _, workspace = _run(tiny_mirror, tmp_path, text)
    (entry,) = list((workspace.root / "stage-runs" / "scifact").glob("*.json"))
    entry.write_text(entry.read_text()[:50])
    _run(tiny_mirror, tmp_path, text)
    assert CALLS == ["b", "b"]
    assert json.loads(entry.read_text())["stage"]["type"] == "counting"


def test_a_broken_last_stage_reruns_from_the_stage_before(tiny_mirror, tmp_path):
    CALLS.clear()
    text = "pipeline: [{counting: {label: s}}, {cutoff: 5}]\n"
    first, workspace = _run(tiny_mirror, tmp_path, text)
    folder = workspace.root / "stage-runs" / "scifact"
    (cut,) = [p for p in folder.glob("*.json") if json.loads(p.read_text())["stage"]["type"] == "cutoff"]
    cut.write_text("{}")
    second, _ = _run(tiny_mirror, tmp_path, text)
    assert CALLS == ["s"] and second.result.run == first.result.run
    assert second.provenance["cache"]["stage_outputs_reused"] == 1  # the counting stage, read back


def test_run_files_and_weighted_fusion(tiny_mirror, tmp_path):
    run = tmp_path / "given.trec"
    run.write_text("".join(f"q{i} Q0 d{i} 1 2.0 x\nq{i} Q0 d{(i + 1) % 40} 2 1.0 x\n" for i in range(20)))
    replayed, _ = _run(tiny_mirror, tmp_path, f"pipeline: [{{run-file: {run}}}]\n")
    assert replayed.result.evaluation.means["ndcg@10"] == pytest.approx(1.0)
    text = f"pipeline:\n  - weighted-fusion:\n      weights: [0.0, 1.0]\n      of: [{{run-file: {run}}}, {{counting: {{}}}}]\n"
    fused, _ = _run(tiny_mirror, tmp_path, text)
    assert fused.result.run["q5"][0][0] == "d0"  # all weight on the counting stage, which ranks d0 first


def test_any_index_kind_through_the_index_stage(tiny_mirror, tmp_path):
    generic, _ = _run(tiny_mirror, tmp_path, "pipeline: [{index: {kind: bm25, build: {backend: bm25s}, k: 10}}]\n")
    named, _ = _run(tiny_mirror, tmp_path, "pipeline: [{bm25: {backend: bm25s, k: 10}}]\n")
    assert generic.result.run == named.result.run


def test_real_bm25_index_is_built_once_and_recorded(tiny_mirror, tmp_path):
    text = "seed: 3\npipeline: [{bm25: {backend: bm25s}}, {cutoff: 10}]\n"
    first, workspace = _run(tiny_mirror, tmp_path, text)
    assert len(workspace.indexes.built) == 1
    second, workspace = _run(tiny_mirror, tmp_path, text)
    assert workspace.indexes.built == []
    assert first.result.evaluation.means == second.result.evaluation.means
    assert first.result.evaluation.means["recall@100"] >= 0.5
    record = second.provenance
    assert record["seed"] == 3 and record["config"]["hash"] == parse_config(text).hash
    assert record["indexes"][0]["backend"] == "bm25s" and record["packages"]["regard"]
    assert record["hardware"]["cores"] >= 1


def test_bm25_stage_threads_must_be_positive():
    from regard.errors import RegardError
    from regard.experiments.stages import Params, Where, registration

    with pytest.raises(RegardError, match="threads.*at least 1"):
        registration("bm25").factory(Params({"threads": 0}, Where("p.yaml", 2, "pipeline[0]")), None)
