# paperradar: `make run` sets everything up and runs the main job; `make test` runs the tests.
VENV    ?= .venv
PYTHON  ?= python3
BIN     := $(VENV)/bin
ARGS    ?=

export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1

.PHONY: install run test check lint

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first, pinned: it resolves to the CPU wheel; unpinned it drags in GBs of CUDA.
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

install: $(BIN)/.installed

## The daily flow once (paperradar run): fetch the last days of the tracked categories,
## find their code and venues, embed and index them, publish; show the status, then serve
## the dashboard on http://localhost:$(PORT) until Ctrl-C.
PORT    ?= 8501
run: install
	$(BIN)/paperradar run $(ARGS)
	$(BIN)/paperradar status
	$(BIN)/paperradar dashboard --port $(PORT)

## Every test, the slow ones too (kills, concurrency, serve, the 72k-paper runs); CI runs this.
test: install
	$(BIN)/python -m pytest -q -m 'slow or not slow'

lint: install
	$(BIN)/python -m pip install -q ruff mypy
	$(BIN)/ruff check core ingest index flows tests
	$(BIN)/mypy core ingest index

check: lint test
