# Two entry points (see README): `make run` (install, build the index if needed, start the main job)
# and `make test` (install with test extras, then run the tests). Both reuse .venv/ and the index.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HASH := $(shell cat pyproject.toml | sha256sum | cut -c1-12)
STAMP := $(VENV)/.installed-$(HASH)
TEST_STAMP := $(VENV)/.installed-test-$(HASH)

.PHONY: run test install lint bench clean

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

test: $(TEST_STAMP)
	$(BIN)/ruff check assistant tests benchmarks
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python benchmarks/bench_index.py
	$(BIN)/python benchmarks/bench_retrieval.py

clean:
	rm -rf index .pytest_cache .ruff_cache
