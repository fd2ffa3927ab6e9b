# Quick start: `make demo` and `make test`. Each creates .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.walink-installed
PEER_STAMP := tests/peer/node_modules/.walink-installed
# pytest-xdist workers for `make test` and `make pytest`: auto is one worker per core (the suite
# waits on subprocesses, sockets and timers much of the time); 0 runs it in one process
PYTEST_WORKERS ?= auto
export PYTEST_WORKERS

.PHONY: demo test lint typecheck pytest peer postgres bench diagrams proto docs clean

demo: $(STAMP)
	$(BIN)/walink demo

# Everything CI runs: ruff, mypy --strict, the strict docs build and pytest, side by side
# (scripts/checks.sh prints each one's output whole when it ends, pytest's last).
test: $(STAMP) peer
	@bash scripts/checks.sh $(BIN)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) peer
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS)

# The virtual environment: an editable install with the test, trio and docs extras.
# setup.py compiles the codec with mypyc, and the Noise accelerator, where a C compiler exists.
$(STAMP): pyproject.toml setup.py walink/protocol/binary/_codec.py walink/protocol/_noise_crypto.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,trio,docs]'
	touch $@

# The Baileys peer (tests/peer). Missing node or npm is a failure under CI=true, a warning otherwise.
peer:
	@bash scripts/install-peer.sh

# A throwaway PostgreSQL for the device-store tests (.ci/run starts one the same way):
# `export WALINK_TEST_POSTGRES=$(make -s postgres)`; stop it with scripts/postgres.sh stop DIR.
PG_DIR ?= /tmp/walink-dev-pg
postgres:
	@bash scripts/postgres.sh start $(PG_DIR)

# Every benchmarks/*.py with a run() -> list[Row], walink and its peer side by side: one table.
bench: $(STAMP) peer
	$(BIN)/python -m benchmarks

# The documentation site, built strictly (a broken link or any warning fails) into site/.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

diagrams: $(STAMP)
	$(BIN)/walink diagram --format mermaid -o diagrams/connection.mmd

proto: $(STAMP)
	$(BIN)/python scripts/gen_proto.py

clean:
	rm -rf $(VENV) build *.egg-info tests/peer/node_modules site
	find walink -name '*.so' -delete
