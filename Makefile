# Fashion-MNIST Studio. `make run` starts the app, `make test` runs every test.
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8501

.PHONY: run test test-fast lint bench setup clean-store

setup:
	bash scripts/setup.sh

run: setup
	$(PY) scripts/serve.py --server.port $(PORT)

# The whole suite: unit, AppTest, real data, real browser, the Ray executor.
test:
	bash scripts/setup.sh --browser --ray
	$(PY) -m ruff check .
	$(PY) -m pytest

# Everything but the browser tests, for quick iteration.
test-fast:
	bash scripts/setup.sh --ray
	$(PY) -m pytest -m "not e2e"

lint: setup
	$(PY) -m ruff check . && $(PY) -m ruff format --check .

bench: setup
	$(PY) -m bench

