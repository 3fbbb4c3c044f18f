"""``regard serve`` on a real index: the API over loopback, bad requests, overload, the CLI, and the page."""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest

from regard import Index
from regard.data.types import Query, Run
from regard.errors import RegardError
from regard.pipeline import Stage
from regard.serve import BatchingOptions, ServiceLimits, create_app

pytestmark = pytest.mark.integration

SUBSET = 200  # the first documents of SciFact: enough for real rankings, quick to index and encode
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def subset(scifact, tmp_path_factory) -> tuple[list, Path]:
    return list(itertools.islice(scifact.corpus, SUBSET)), tmp_path_factory.mktemp("serve-indexes")


@pytest.fixture(scope="module")
def subset_bm25(subset) -> Index:
    documents, folder = subset
    return Index.build(documents, folder / "bm25", kind="bm25", backend="bm25s")


@pytest.fixture(scope="module")
def rescoring(subset, subset_bm25) -> Stage:
    documents, folder = subset
    dense = Index.build(documents, folder / "dense", kind="dense")
    return subset_bm25.retriever(k=100) % 20 >> dense.retriever(k=100)


@pytest.fixture(scope="module")
def queries(scifact) -> list[str]:
    return [q.text for q in scifact.queries("test")][:12]


@contextlib.contextmanager
def serving(app):
    """Run ``app`` under uvicorn on a free loopback port in a thread; yields its base URL."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


def _concurrently(function, items, clients: int):
    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(function, items))


def test_search_answers_match_pipeline_search_with_stage_scores(rescoring, subset_bm25, queries):
    app = create_app(rescoring, batching=BatchingOptions(max_batch=16, max_wait_ms=50))
    with serving(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        answers = _concurrently(lambda q: client.post("/search", json={"query": q, "k": 10}), queries, len(queries))
        assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
        answers = [a.json() for a in answers]
        assert max(a["batch_size"] for a in answers) > 1  # concurrent queries shared a batch
        labels = ["bm25", "dense"]
        for text, answer in zip(queries, answers):
            expected = rescoring.search(text, k=10)
            assert [r["docid"] for r in answer["results"]] == [d for d, _ in expected]
            assert [r["score"] for r in answer["results"]] == pytest.approx([s for _, s in expected], abs=1e-4)
            assert [r["rank"] for r in answer["results"]] == list(range(1, len(expected) + 1))
            assert [s["name"] for s in answer["stages"]] == labels and answer["took_ms"] > 0
            bm25_ranks = [r["ranks"]["bm25"] for r in answer["results"]]
            assert all(1 <= rank <= 20 for rank in bm25_ranks)  # reranked from BM25's top 20
            for result in answer["results"]:
                assert set(result) == {"docid", "score", "rank", "title", "text", "stages", "ranks"}
                assert result["stages"]["dense"] == pytest.approx(result["score"])
                assert result["ranks"]["dense"] == result["rank"] and result["title"]
        moved = [r for a in answers for r in a["results"] if r["ranks"]["bm25"] != r["rank"]]
        assert moved  # the dense stage really reordered BM25's candidates

        via_get = client.get("/search", params={"q": queries[0], "k": 3}).json()
        assert [r["docid"] for r in via_get["results"]] == [r["docid"] for r in answers[0]["results"][:3]]
        docid = answers[0]["results"][0]["docid"]
        document = client.get(f"/documents/{docid}").json()
        stored = subset_bm25.docstore.get(docid)
        assert document == {"docid": docid, "title": stored.title, "text": stored.text}
        assert client.get("/health").json()["status"] == "ok"
        info = client.get("/info").json()
        assert info["stages"] == labels and {m["kind"] for m in info["indexes"]} == {"bm25", "dense"}
        assert info["models"] and info["limits"]["max_k"] == 100
        page = client.get("/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"] and 'id="q"' in page.text


def test_bad_requests_get_400_and_clear_messages(subset_bm25):
    app = create_app(subset_bm25.retriever(k=100), limits=ServiceLimits(max_k=20, max_body_bytes=2000))
    with serving(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        cases = [
            (client.post("/search", content=b'{"query": '), 400, "not valid JSON"),
            (client.post("/search", content=b"\xff\xfa"), 400, "not UTF-8"),
            (client.post("/search", json={"query": ""}), 400, "'query' is empty"),
            (client.post("/search", json={"query": ["p53"]}), 400, "must be a string, got an array"),
            (client.post("/search", json={"query": "p53", "k": "5"}), 400, "'k' must be an integer"),
            (client.post("/search", json={"query": "p53", "k": 21}), 400, "between 1 and 20"),
            (client.post("/search", json={"query": "p53", "k": 5, "extra": 1}), 400, "unknown field 'extra'"),
            (client.post("/search", content=json.dumps({"query": "x" * 5000}).encode()), 413, "limit is 2000"),
            (client.get("/search"), 400, "missing parameter 'q'"),
            (client.get("/search", params={"q": "p53", "k": "-1"}), 400, "between 1 and 20"),
            (client.get("/documents/no-such-id"), 404, "no document with id 'no-such-id'"),
            (client.get("/documents/../../etc/passwd"), 404, ""),
            (client.get("/documents/%2E%2E%2Fmanifest.json"), 404, "no document"),
            (client.put("/search"), 405, ""),
        ]
        for response, status, message in cases:
            assert response.status_code == status, (response.request.url, response.text)
            assert response.headers["content-type"] == "application/json"
            assert message in response.json()["error"]
        assert client.post("/search", json={"query": "p53", "k": 5}).status_code == 200


class _Failing(Stage):
    name = "failing"

    def transform(self, queries, run):
        raise RuntimeError("secret detail /home/user/private")


def test_a_failing_pipeline_answers_500_without_details():
    with serving(create_app(_Failing())) as url:
        response = httpx.post(f"{url}/search", json={"query": "p53"}, timeout=30)
    assert response.status_code == 500
    assert "secret" not in response.text and "Traceback" not in response.text
    assert response.json()["error"].startswith("internal error")


class _Gated(Stage):
    """The real BM25 stage behind a gate, so a test can hold the service at capacity."""

    def __init__(self, inner: Stage):
        self.inner, self.name = inner, inner.name
        self.gate = threading.Event()

    def transform(self, queries: list[Query], run: Run | None) -> Run:
        assert self.gate.wait(30)
        return self.inner.transform(queries, run)


def test_overfull_queue_answers_503_then_recovers_and_slow_requests_time_out(subset_bm25, queries):
    gated = _Gated(subset_bm25.retriever(k=100))
    app = create_app(gated, limits=ServiceLimits(timeout_s=20, retry_after_s=2),
                     batching=BatchingOptions(max_batch=1, max_wait_ms=0, max_queue=3))
    with serving(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        with ThreadPoolExecutor(12) as pool:
            pending = [pool.submit(client.post, "/search", json={"query": queries[i % len(queries)], "k": 5})
                       for i in range(12)]
            deadline = time.monotonic() + 20
            while sum(f.done() for f in pending) < 8:  # 1 running + 3 queued wait; the rest are refused at once
                assert time.monotonic() < deadline, "over-capacity requests were not refused"
                time.sleep(0.02)
            gated.gate.set()
            responses = [f.result() for f in pending]
        codes = sorted(r.status_code for r in responses)
        assert codes == [200] * 4 + [503] * 8
        refused = [r for r in responses if r.status_code == 503]
        assert all(r.headers["retry-after"] == "2" and "capacity" in r.json()["error"] for r in refused)
        # As many at once as the queue holds: all served, whether or not the worker has taken one yet.
        recovered = _concurrently(lambda q: client.post("/search", json={"query": q, "k": 5}), queries[:3], 3)
        assert [r.status_code for r in recovered] == [200] * 3

    gated.gate.clear()
    impatient = create_app(gated, limits=ServiceLimits(timeout_s=0.3))
    with serving(impatient) as url:
        slow = httpx.post(f"{url}/search", json={"query": "p53"}, timeout=30)
        assert slow.status_code == 504 and "0.3 s limit" in slow.json()["error"]
        gated.gate.set()
        assert httpx.post(f"{url}/search", json={"query": "p53"}, timeout=30).status_code == 200


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_regard_serve_command_answers_32_concurrent_clients(subset_bm25, queries):
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    process = subprocess.Popen([sys.executable, "-m", "regard.cli", "serve", str(subset_bm25.folder),
                                "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, process.stdout.read()
            assert time.monotonic() < deadline, "regard serve did not start"
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            time.sleep(0.2)
        with httpx.Client(base_url=url, timeout=60, limits=httpx.Limits(max_connections=32)) as client:
            texts = [queries[i % len(queries)] for i in range(128)]
            responses = _concurrently(lambda q: client.post("/search", json={"query": q, "k": 10}), texts, 32)
            assert [r.status_code for r in responses] == [200] * 128
            assert all(len(r.json()["results"]) == 10 for r in responses)
            assert "regard search" in client.get("/").text
    finally:
        process.terminate()
        process.wait(15)


BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")


class DevTools:
    """A minimal Chrome DevTools Protocol client over the page's websocket."""

    def __init__(self, websocket):
        self.socket = websocket
        self.next_id = 0

    def call(self, method: str, **params):
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=60))
            if message.get("id") == self.next_id:
                assert "error" not in message, message
                return message["result"]

    def evaluate(self, expression: str):
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def wait_for(self, expression: str, seconds: float = 60):
        deadline = time.monotonic() + seconds
        while not self.evaluate(expression):
            assert time.monotonic() < deadline, f"timed out waiting for {expression}"
            time.sleep(0.1)


@contextlib.contextmanager
def headless_chromium(profile: Path):
    browser = next((found for found in map(shutil.which, BROWSERS) if found), None)
    if browser is None:
        pytest.skip("no Chromium or Chrome on PATH (make test installs Debian's chromium when run as root)")
    process = subprocess.Popen(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", f"--user-data-dir={profile}",
         "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "HOME": str(profile)})
    try:
        active = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (active.is_file() and len(active.read_text().split()) == 2):
            assert process.poll() is None and time.monotonic() < deadline, "Chromium did not start"
            time.sleep(0.1)
        port = active.read_text().split()[0]
        pages = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        from websockets.sync.client import connect

        with connect(next(p for p in pages if p["type"] == "page")["webSocketDebuggerUrl"], max_size=None,
                     open_timeout=30) as websocket:
            yield DevTools(websocket)
    finally:
        process.terminate()
        process.wait(15)


def test_page_in_headless_chromium_shows_highlighted_results_with_stage_scores(rescoring, queries, tmp_path):
    query = "p53 mutations in cancer"
    with serving(create_app(rescoring)) as url, headless_chromium(tmp_path / "profile") as page:
        page.call("Emulation.setDeviceMetricsOverride", width=1280, height=1600, deviceScaleFactor=1, mobile=False)
        page.call("Page.navigate", url=f"{url}/")
        page.wait_for("document.readyState === 'complete' && document.getElementById('q') !== null")
        page.evaluate("document.getElementById('q').focus()")
        page.call("Input.insertText", text=query)  # typed into the search box, then Enter submits the form
        for kind in ("keyDown", "keyUp"):
            page.call("Input.dispatchKeyEvent", type=kind, key="Enter", code="Enter", windowsVirtualKeyCode=13,
                      **({"text": "\r"} if kind == "keyDown" else {}))
        page.wait_for("document.body.dataset.state === 'done'")
        shown = page.evaluate("""JSON.stringify({
            docids: [...document.querySelectorAll('.result')].map(r => r.dataset.docid),
            marks: [...document.querySelectorAll('.result mark')].map(m => m.textContent.toLowerCase()),
            stages: [...document.querySelectorAll('.result')].map(r =>
                [...r.querySelectorAll('tr.stage-row th')].map(th => th.textContent)),
            scores: document.querySelectorAll('.result tr.stage-row td').length,
            moves: document.querySelectorAll('.result td.up, .result td.down').length,
            timings: [...document.querySelectorAll('.timing')].map(t => t.textContent),
            location: location.search})""")
        shown = json.loads(shown)
        screenshot = base64.b64decode(page.call("Page.captureScreenshot", format="png")["data"])

    assert shown["docids"] == [d for d, _ in rescoring.search(query, k=10)]
    assert shown["marks"] and all(m.startswith(("p53", "mutation", "cancer")) for m in shown["marks"])
    assert all(stages == ["bm25", "dense"] for stages in shown["stages"])
    assert shown["scores"] == 10 * 2 * 3 and shown["moves"] > 0
    assert [t.split(":")[0] for t in shown["timings"]] == ["bm25", "dense", "total"]
    assert shown["location"].startswith("?q=p53%20mutations")

    path = tmp_path / "page.png"
    path.write_bytes(screenshot)
    import matplotlib.image

    pixels = matplotlib.image.imread(path)[..., :3]
    assert pixels.shape[:2] == (1600, 1280) and pixels.std() > 0.05  # not a blank page
    highlight = (pixels[..., 0] > 0.9) & (pixels[..., 1] > 0.8) & (pixels[..., 2] < 0.5)  # the yellow <mark>s
    assert highlight.sum() > 200
    keep = os.environ.get("REGARD_KEEP_SCREENSHOT")
    if keep:
        shutil.copy(path, keep)


def test_a_yaml_config_is_served_with_its_indexes(scifact, tmp_path):
    from regard.serve import load_pipeline

    config = tmp_path / "bm25s.yaml"
    config.write_text("name: bm25s-top\npipeline:\n  - bm25: {backend: bm25s}\n  - cutoff: 50\n")
    served = load_pipeline(str(config), dataset="scifact")
    assert served.description == "bm25s-top" and served.config == str(config)
    assert [i.manifest.backend for i in served.indexes] == ["bm25s"] and served.docstores
    query = "vitamin d deficiency"
    with serving(create_app(served)) as url:
        answer = httpx.post(f"{url}/search", json={"query": query, "k": 5}, timeout=30).json()
        info = httpx.get(f"{url}/info", timeout=30).json()
    assert [r["docid"] for r in answer["results"]] == [d for d, _ in served.stage.search(query, k=5)]
    assert all(r["title"] for r in answer["results"]) and info["pipeline"] == "bm25s-top"
    with pytest.raises(RegardError, match="add --dataset"):
        load_pipeline(str(config))
