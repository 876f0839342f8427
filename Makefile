# Two commands on a fresh Debian machine: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
UV := $(PYTHON) -m uv
VENV := .venv
# Debian packages: Pango for WeasyPrint, HarfBuzz's subsetter (3x faster, reproducible PDFs),
# poppler-utils so tests can read PDFs back as text; chromium for the browser tests (Playwright
# drives Debian's Chromium: no browser download); dovecot-imapd for the mailbox test (a real IMAP
# server the test starts on loopback, with its own configuration).
DEBIAN_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fontconfig poppler-utils chromium dovecot-imapd

export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)
export PREFECT_HOME ?= $(CURDIR)/.prefect
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 60
export DO_NOT_TRACK := 1

.PHONY: help run test test-integration test-faults lint check-wheel typecheck env system-packages clean server serve deploy worker bench

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

run: env ## Run the pipeline on the bundled returns and print where the briefings are
	$(VENV)/bin/briefings run

# Two pytest workers (pytest-xdist) share the one Prefect server their controller starts; each
# test module stays on one worker, in order.
TEST_WORKERS ?= 2

test: env ## Run the test suite (all but the fault injection and integration tests, below)
	$(VENV)/bin/pytest --ignore=tests/faults -m "not integration" -n $(TEST_WORKERS) --dist loadfile

test-integration: env ## Tests that drive other processes: make deploy and a worker, serve, Dask, Chromium, Dovecot
	$(VENV)/bin/pytest --ignore=tests/faults -m integration

test-faults: env ## Kill, overlap, full-disk, server-loss and fuzz faults (CI runs it after test)
	$(VENV)/bin/pytest tests/faults

bench: env ## Benchmarks W1-W6 against their floors, W6 on Dask too (a quarter of an hour or so); JSON and profiles in bench/results/
	$(VENV)/bin/python bench/run.py --profile --json bench/results/$$(date +%Y%m%d-%H%M%S).json

LINTED := src flows tests tools bench

lint: env ## Ruff (check and format), declared dependencies (deptry), import contracts
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)
	$(VENV)/bin/deptry src flows
	$(VENV)/bin/lint-imports

typecheck: env ## mypy: strict on the domain and the services, checked everywhere else
	$(VENV)/bin/mypy

check-wheel: env ## The built wheel, installed in a fresh venv outside the clone, makes the same PDFs
	PYTHON=$(PYTHON) bash tools/check_wheel.sh

# Running on a schedule. `make server` in one terminal, then either `make serve` (one process
# runs both deployments) or `make deploy` once and `make worker` (a process work pool).
PREFECT_PORT ?= 4200
WORK_POOL := briefings-process
# The scheduling targets talk to the server `make server` starts, unless PREFECT_API_URL says
# otherwise: never to a throwaway server, which would lose the deployments.
serve deploy worker: export PREFECT_API_URL ?= http://127.0.0.1:$(PREFECT_PORT)/api
REQUIRE_SERVER = $(VENV)/bin/python -m briefings.operations  # one line on stderr if none answers

server: env ## Start the Prefect server and UI on 127.0.0.1:4200 (SQLite in .prefect/)
	$(VENV)/bin/briefings server --port $(PREFECT_PORT)

serve: env ## Serve both deployments on their schedules from one process (needs a server)
	$(VENV)/bin/briefings serve

deploy: env ## Deploy prefect.yaml to the process work pool briefings-process (needs a server)
	@$(REQUIRE_SERVER)
	@$(VENV)/bin/prefect work-pool inspect $(WORK_POOL) >/dev/null 2>&1 || \
	  $(VENV)/bin/prefect work-pool create --type process $(WORK_POOL)
	$(VENV)/bin/prefect deploy --all --no-prompt

worker: env ## Start a worker for the process work pool: it runs the deployed flows
	@$(REQUIRE_SERVER)
	$(VENV)/bin/prefect worker start --pool $(WORK_POOL)

env: system-packages $(VENV)/.synced ## Create the environment from the lock file
	@# The project's own code is installed editable, so uv compiles only the dependencies;
	@# compileall skips what is up to date (each process would otherwise compile cli.py & co.).
	@$(VENV)/bin/python -m compileall -q src flows

# Bytecode compiled once here: every process (each run, each test's subprocess) then imports
# Prefect, pandas and Great Expectations without compiling them, which where
# PYTHONDONTWRITEBYTECODE is set it would do every time (about half their import time).
$(VENV)/.synced: pyproject.toml uv.lock Makefile
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet 'uv>=0.9'
	$(UV) sync --locked --compile-bytecode --python $(PYTHON)
	@touch $@

system-packages: ## Install the Debian packages named above (as root), or say which are missing
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  echo "Installing Debian packages:" $$missing; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else \
	  echo "Please install these Debian packages: $$missing" >&2; exit 1; \
	fi

clean: ## Remove generated output (never data/raw/)
	rm -rf reports/out data/processed/staged data/processed/quarantine data/processed/*.parquet data/processed/ledger.csv
