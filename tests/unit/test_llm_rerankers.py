"""ICR, listwise and pointwise LLM rerankers on tiny random causal LMs built in the test (no downloads)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import torch

from llm_fixtures import tiny_llm
from regard.data.types import Document, Query, Run
from regard.errors import RegardError
from regard.indexing.docstore import DocStore, write_docstore
from regard.rerank.icr import ICR, masked_calibrated_score
from regard.rerank.listwise import Listwise, parse_permutation, ranking_messages, sliding_windows
from regard.rerank.llm.attention import QueryRowAttention, register
from regard.lm.causal import Generation
from regard.rerank.llm.openai_compat import OpenAICompatible
from regard.rerank.pointwise import Pointwise

TOPICS = ["tumour suppressor genes", "cell energy and mitochondria", "vaccines and immunity", "insulin and glucose",
          "protein folding", "gene expression in yeast", "heart disease risk", "sleep and memory",
          "antibiotic resistance", "stem cell therapy", "blood pressure drugs", "viral replication"]
DOCS = [Document(f"d{i}", f"a study of {topic} in {i + 1} patients with results", f"title {i}")
        for i, topic in enumerate(TOPICS)]


@pytest.fixture()
def docstore(tmp_path):
    write_docstore(DOCS, tmp_path)
    return DocStore(tmp_path)


def incoming(count: int) -> Run:
    return Run({"q1": [(f"d{i}", float(count - i)) for i in range(count)]})


QUERY = Query("q1", "which genes suppress tumours")


def count_forward_passes(model) -> list[int]:
    calls = [0]
    model.register_forward_pre_hook(lambda module, args: calls.__setitem__(0, calls[0] + 1))
    return calls


@pytest.mark.parametrize("architecture", ["llama", "gemma3"])
def test_query_row_attention_equals_output_attentions(architecture):
    """The recorded aggregate equals the eager model's full attention maps, also across a KV cache."""
    from transformers import DynamicCache

    eager = tiny_llm(architecture, attention="eager")
    ids = torch.randint(1000, 2000, (1, 40))
    with torch.inference_mode():
        maps = eager.model(input_ids=ids, output_attentions=True).attentions
    expected = sum(layer[0][:, 30:40, :].mean(1).sum(0) for layer in maps)

    model = tiny_llm(architecture).model
    model.set_attn_implementation(register())
    cache = DynamicCache()
    with torch.inference_mode():
        with QueryRowAttention(30, 40) as whole:
            model(input_ids=ids)
        model(input_ids=ids[:, :30], past_key_values=cache, use_cache=True)
        with QueryRowAttention(30, 40) as cached:
            model(input_ids=ids[:, 30:], past_key_values=cache, use_cache=True)
    assert whole.layers == cached.layers == 2
    torch.testing.assert_close(whole.total, expected, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(cached.total, expected, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("count", [3, 12])
def test_icr_uses_two_forward_passes_whatever_the_number_of_candidates(docstore, count):
    stage = ICR(docstore, tiny_llm())
    calls = count_forward_passes(stage.llm.model)
    out = stage([QUERY], incoming(count))
    assert calls[0] == 2 and stage.cost.per_query["q1"].forward_passes == 2
    assert sorted(out.docids("q1")) == sorted(f"d{i}" for i in range(count))


@pytest.mark.parametrize("architecture", ["llama", "gemma3"])
def test_icr_scores_equal_a_direct_computation_from_output_attentions(docstore, architecture):
    """Stage scores = masked calibration of attention maps from two full eager passes (no cache reuse)."""
    stage = ICR(docstore, tiny_llm(architecture))
    texts = [d.contents for d in DOCS[:5]]
    out = stage([QUERY], incoming(5))

    eager = tiny_llm(architecture, attention="eager")
    prompt = stage.prompt(texts)
    start = len(prompt.prefix)

    def attention_to_prefix(query_text: str):
        tail = stage._tail(query_text)
        with torch.inference_mode():
            maps = eager.model(input_ids=torch.tensor([prompt.prefix + tail]), output_attentions=True).attentions
        return sum(layer[0][:, start:, :].mean(1).sum(0) for layer in maps)

    with_query, without_query = attention_to_prefix(QUERY.text), attention_to_prefix("N/A")
    expected = {f"d{i}": masked_calibrated_score(with_query[a:b], without_query[a:b])
                for i, (a, b) in enumerate(prompt.spans)}
    assert dict(out["q1"]) == pytest.approx(expected, rel=1e-4, abs=1e-6)


def test_icr_lists_documents_in_reverse_order_of_the_incoming_ranking(docstore):
    stage = ICR(docstore, tiny_llm())
    prompt = stage.prompt(["first", "second", "third"])
    starts = [a for a, _ in prompt.spans]
    assert starts == sorted(starts, reverse=True)  # the top candidate sits last, nearest the query
    assert ICR(docstore, stage.llm, reverse=False).prompt(["first", "second"]).spans[0][0] < starts[0]


def test_uncalibrated_icr_is_one_pass_of_query_attention(docstore):
    stage = ICR(docstore, tiny_llm(), calibrate=False)
    calls = count_forward_passes(stage.llm.model)
    out = stage([QUERY], incoming(4))
    assert calls[0] == 1 and all(score > 0 for _, score in out["q1"])


def test_icr_splits_a_candidate_list_too_long_for_the_context(docstore):
    stage = ICR(docstore, tiny_llm(), max_context=80)
    calls = count_forward_passes(stage.llm.model)
    out = stage([QUERY], incoming(12))
    assert calls[0] > 2 and calls[0] % 2 == 0
    assert sorted(out.docids("q1")) == sorted(d.id for d in DOCS)


def test_word_budget_truncates_documents(docstore):
    stage = ICR(docstore, tiny_llm(), max_words=3)
    short = stage.cost
    stage([QUERY], incoming(2))
    long = ICR(docstore, stage.llm, max_words=None)
    long([QUERY], incoming(2))
    assert short.per_query["q1"].prompt_tokens < long.cost.per_query["q1"].prompt_tokens


def test_llm_rerankers_need_an_incoming_run(docstore):
    with pytest.raises(RegardError, match="after a retriever"):
        ICR(docstore, tiny_llm())([QUERY])


@pytest.mark.parametrize("text, order, usable", [
    ("[2] > [1] > [3]", [1, 0, 2], 3),
    ("[3] > [3] > [9] > [0] > [1]", [2, 0, 1], 2),  # repeats and unknown ids dropped, [2] appended
    ("I cannot rank these.", [0, 1, 2], 0),
    ("2 > 1", [1, 0, 2], 2),
])
def test_parse_permutation(text, order, usable):
    assert parse_permutation(text, 3) == (order, usable)


def test_sliding_windows_go_from_the_bottom_to_the_top():
    windows = sliding_windows(100, 20, 10)
    assert windows[0] == (80, 100) and windows[-1] == (0, 20) and len(windows) == 9
    assert sliding_windows(25, 20, 10) == [(5, 25), (0, 15)]
    assert sliding_windows(100, None, 10) == [(0, 100)] == sliding_windows(100, 200, 10)


class ReversingBackend:
    """Answers every ranking request with the passages in reverse order, as a model could."""

    name = "reverser"

    def __init__(self):
        self.calls = []

    def generate(self, messages, max_new_tokens):
        count = sum(1 for m in messages if m["role"] == "user" and m["content"].startswith("["))
        self.calls.append(count)
        text = " > ".join(f"[{i}]" for i in range(count, 0, -1))
        return Generation(text, prompt_tokens=10 * count, generated_tokens=4 * count)


def test_full_window_makes_one_call_and_sliding_window_several(docstore):
    backend = ReversingBackend()
    full = Listwise(docstore, backend)
    assert full([QUERY], incoming(12)).docids("q1") == [f"d{i}" for i in range(11, -1, -1)]
    assert backend.calls == [12]
    backend.calls.clear()
    sliding = Listwise(docstore, backend, window=4, step=2)
    out = sliding([QUERY], incoming(12))
    assert backend.calls == [4] * 5 and sorted(out.docids("q1")) == sorted(d.id for d in DOCS)
    # Reversing windows bottom-up carries the last document to the top, as a bubble pass would.
    assert out.docids("q1")[0] == "d11"
    assert sliding.cost.per_query["q1"].prompt_tokens == 200 and full.cost.per_query["q1"].prompt_tokens == 120


def test_listwise_on_a_tiny_model_returns_exactly_the_candidates(docstore):
    stage = Listwise(docstore, tiny_llm(), max_new_tokens=12)
    out = stage([QUERY], incoming(5))
    assert sorted(out.docids("q1")) == [f"d{i}" for i in range(5)]
    cost = stage.cost.per_query["q1"]
    assert cost.prompt_tokens == stage.llm.count_tokens(ranking_messages(QUERY.text, [d.contents for d in DOCS[:5]]))
    assert 1 <= cost.generated_tokens <= 12


class _ChatServer(BaseHTTPRequestHandler):
    authorizations: list = []  # the Authorization header of each request (None when absent)

    def do_POST(self):
        type(self).authorizations.append(self.headers.get("Authorization"))
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        count = sum(1 for m in body["messages"] if m["role"] == "user" and m["content"].startswith("["))
        answer = " > ".join(f"[{i}]" for i in range(count, 0, -1))
        payload = {"choices": [{"message": {"role": "assistant", "content": answer}}],
                   "usage": {"prompt_tokens": 7 * count, "completion_tokens": 3 * count}}
        data = json.dumps(payload).encode()
        self.send_response(200 if body["model"] == "ranker" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_openai_compatible_backend_over_http(docstore):
    server = HTTPServer(("127.0.0.1", 0), _ChatServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/v1"
    try:
        stage = Listwise(docstore, OpenAICompatible(url, "ranker"))
        assert stage([QUERY], incoming(3)).docids("q1") == ["d2", "d1", "d0"]
        assert stage.cost.per_query["q1"].prompt_tokens == 21
        with pytest.raises(RegardError, match="HTTP 404"):
            OpenAICompatible(url, "other").generate([{"role": "user", "content": "hi"}], 5)
    finally:
        server.shutdown()
    with pytest.raises(RegardError, match="cannot reach"):
        OpenAICompatible(url, "ranker", timeout=2).generate([{"role": "user", "content": "hi"}], 5)


def test_openai_compatible_backend_sends_only_a_key_given_for_it(monkeypatch):
    server = HTTPServer(("127.0.0.1", 0), _ChatServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/v1"
    message = [{"role": "user", "content": "hi"}]
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-openai")
    monkeypatch.delenv("REGARD_LLM_API_KEY", raising=False)
    _ChatServer.authorizations = []
    try:
        OpenAICompatible(url, "ranker").generate(message, 5)  # the OpenAI key never goes to another host
        OpenAICompatible(url, "ranker", api_key="given").generate(message, 5)
        monkeypatch.setenv("REGARD_LLM_API_KEY", "regard-key")
        OpenAICompatible(url, "ranker").generate(message, 5)
    finally:
        server.shutdown()
    assert _ChatServer.authorizations == [None, "Bearer given", "Bearer regard-key"]


def test_openai_key_is_read_only_for_openai_itself(monkeypatch):
    from regard.rerank.llm.openai_compat import choose_api_key

    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-openai")
    monkeypatch.delenv("REGARD_LLM_API_KEY", raising=False)
    assert choose_api_key("https://api.openai.com/v1") == "sk-secret-openai"
    assert choose_api_key("http://api.openai.com/v1") is None
    assert choose_api_key("https://api.openai.com.evil.example/v1") is None
    with pytest.warns(UserWarning, match="unencrypted"):
        OpenAICompatible("http://10.1.2.3:8000/v1", "m", api_key="given")


@pytest.mark.parametrize("chat", [True, False])
def test_pointwise_scores_do_not_depend_on_batching(docstore, chat):
    llm = tiny_llm(chat=chat)
    batched = Pointwise(docstore, llm, batch_size=8)([QUERY], incoming(6))
    single = Pointwise(docstore, llm, batch_size=1)([QUERY], incoming(6))
    assert dict(batched["q1"]) == pytest.approx(dict(single["q1"]), abs=1e-4)
    assert len(set(round(s, 6) for _, s in batched["q1"])) > 1


@pytest.mark.parametrize("architecture", ["llama", "gemma3"])
@pytest.mark.parametrize("batch_size", [1, 3, 8])
def test_pointwise_shared_prefix_scores_equal_separate_prompts(tmp_path, architecture, batch_size):
    # Documents of very different lengths, so batches are padded; Gemma 3's 8-token sliding window is
    # shorter than the shared prefix.
    docs = [Document(f"d{i}", " ".join(["protein folding and heart disease"] * (1 + 3 * (i % 4))), f"title {i}")
            for i in range(7)]
    write_docstore(docs, tmp_path)
    store = DocStore(tmp_path)
    llm = tiny_llm(architecture)
    run = Run({"q1": [(d.id, 1.0) for d in docs]})
    shared = Pointwise(store, llm, batch_size=batch_size)([QUERY], run)
    separate = Pointwise(store, llm, batch_size=batch_size, share_prefix=False)([QUERY], run)
    assert dict(shared["q1"]) == pytest.approx(dict(separate["q1"]), abs=1e-4)
    assert len(set(round(s, 4) for _, s in shared["q1"])) > 3


def test_shared_prefix_is_encoded_once_per_batch_and_once_for_the_prefix(docstore):
    llm = tiny_llm()
    calls = count_forward_passes(llm.model)
    Pointwise(docstore, llm, batch_size=4)([QUERY], incoming(8))
    assert calls[0] == 1 + 2


def test_pointwise_cost_counts_the_shared_prefix_once(docstore):
    llm = tiny_llm()
    shared, separate = Pointwise(docstore, llm, batch_size=4), Pointwise(docstore, llm, batch_size=4, share_prefix=False)
    shared([QUERY], incoming(8))
    separate([QUERY], incoming(8))
    one, whole = shared.cost.per_query["q1"], separate.cost.per_query["q1"]
    assert whole.forward_passes == 8 and one.forward_passes == 8 + 1  # plus the prefix pass
    saved = whole.prompt_tokens - one.prompt_tokens
    assert saved > 0 and saved % 7 == 0  # the prefix is encoded once instead of 8 times


def test_pointwise_score_is_the_yes_no_log_odds(docstore):
    stage = Pointwise(docstore, tiny_llm())
    out = stage([QUERY], incoming(1))
    with torch.inference_mode():
        logits = stage.llm.model(input_ids=torch.tensor([stage.prompt(QUERY.text, DOCS[0].contents)])).logits[0, -1]
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    expected = torch.logsumexp(log_probs[stage.yes], 0) - torch.logsumexp(log_probs[stage.no], 0)
    assert out["q1"][0][1] == pytest.approx(float(expected), abs=1e-4)


@pytest.fixture()
def tiny_llm_folder(tmp_path):
    """A tiny chat Llama saved like a hub checkpoint (safetensors, tokenizer with its chat template)."""
    llm = tiny_llm()
    folder = tmp_path / "tiny-llm"
    llm.model.save_pretrained(folder, safe_serialization=True)
    llm.tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.parametrize("prefix", ["icr", "listwise", "pointwise"])
def test_pipeline_expression_with_an_llm_reranker(tiny_llm_folder, tiny_mirror, tmp_path, monkeypatch, prefix):
    from regard import Index
    from regard.pipeline_spec import PipelineParser

    monkeypatch.setenv("REGARD_CACHE", str(tmp_path / "cache"))
    bm25 = Index.build(tiny_mirror, tmp_path / "bm25", kind="bm25", backend="bm25s")
    stage = PipelineParser().parse(f"{bm25.folder} % 4 >> {prefix}:{tiny_llm_folder}")
    hits = stage.search("topic 1 subject 2", k=10)
    assert {d for d, _ in hits} == {d for d, _ in bm25.retriever().search("topic 1 subject 2")[:4]}


def test_config_with_icr_runs_and_records_the_model(tiny_llm_folder, tiny_mirror, tmp_path):
    from regard.experiments.config import parse_config
    from regard.experiments.runner import Workspace, run_config

    text = (f"pipeline:\n  - bm25: {{backend: bm25s}}\n  - cutoff: 4\n"
            f"  - icr: {{model: {tiny_llm_folder}, precision: fp32, max_words: 20}}\n")
    outcome = run_config(parse_config(text, "icr.yaml", default_name="icr"), "scifact",
                         Workspace(tmp_path / "work"), ["ndcg@10"], split="train")
    assert all(len(outcome.result.run[qid]) == 4 for qid in outcome.result.run)
    assert any(entry.get("role") == "icr" and entry.get("max_words") == 20
               for entry in outcome.provenance["models"])
    with pytest.raises(RegardError, match=r"icr.yaml:4 .*unknown parameter 'window'"):
        run_config(parse_config(text.replace("max_words: 20", "window: 3"), "icr.yaml"), "scifact",
                   Workspace(tmp_path / "work"), ["ndcg@10"], split="train")
