# Maestro: `make run` sets everything up, serves the UIs and materializes the sample behind them;
# `make test` installs what the tests need and runs them all.

SHELL := /bin/bash
PYTHON ?= python3
UV := .uv/bin/uv
VENV := .venv
export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never
# Installed packages get their bytecode at install time: where PYTHONDONTWRITEBYTECODE=1 no .pyc
# would ever be written, and every process would compile vectorbt, dagster... from source.
export UV_COMPILE_BYTECODE := 1
export DAGSTER_HOME := $(CURDIR)/.dagster_home
HOST ?= 127.0.0.1
DAGSTER_PORT ?= 3000
API_PORT ?= 8000
WORKERS ?= 2
CHROMIUM ?= /usr/bin/chromium
WARM := $(VENV)/.maestro-warm
ENGINE_SOURCES := $(shell find maestro_pipeline/engine -name '*.py' 2>/dev/null)
FRONTEND_SOURCES := $(shell find frontend/src frontend/index.html frontend/vite.config.ts \
	frontend/tsconfig.json frontend/package-lock.json -type f 2>/dev/null)

.PHONY: run setup setup-dev compile dagster-home frontend frontend-test servers materialize \
	serve test lint format bench clean

run: setup frontend dagster-home serve ## set up, serve the UIs, materialize the sample behind them

$(UV):
	$(PYTHON) -m venv .uv
	.uv/bin/pip install --quiet "uv>=0.9,<1"

setup: $(UV) ## install the project (locked dependencies, precompiled) into .venv
	$(UV) sync --frozen
	@$(MAKE) --no-print-directory compile

setup-dev: $(UV) ## install the project and the test tools into .venv
	$(UV) sync --frozen --extra dev --extra distributed
	@$(MAKE) --no-print-directory compile

compile: $(WARM) ## our bytecode and the numba cache, so the first command is as fast as the tenth

$(WARM): $(ENGINE_SOURCES) uv.lock
	$(VENV)/bin/python -m compileall -q -j 0 maestro_pipeline api
	$(VENV)/bin/maestro warm-up
	@touch $@

frontend: frontend/dist/index.html ## build the chart UI into frontend/dist (when its sources changed)

frontend/node_modules/.package-lock.json: frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund

frontend/dist/index.html: frontend/node_modules/.package-lock.json $(FRONTEND_SOURCES)
	cd frontend && npm run build

frontend-test: frontend ## the chart UI's unit tests
	cd frontend && npm test

# Debian packages the tests start themselves: Chromium for the browser tests, PostgreSQL and
# Redis for the distributed (Optuna on PostgreSQL, Dagster on Celery) tests.
TEST_PACKAGES := $(if $(wildcard $(CHROMIUM)),,chromium) \
	$(if $(wildcard /usr/lib/postgresql/*/bin/initdb),,postgresql) \
	$(if $(shell command -v redis-server),,redis-server)

servers: ## install Debian's Chromium, PostgreSQL and Redis when missing (tests start them)
	@test -z "$(strip $(TEST_PACKAGES))" || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(TEST_PACKAGES) >/dev/null)

dagster-home:
	@mkdir -p $(DAGSTER_HOME)/logs
	@ln -sfn $(CURDIR)/dagster.yaml $(DAGSTER_HOME)/dagster.yaml

materialize: dagster-home ## materialize what is missing of the graph: bars, studies, reports
	$(VENV)/bin/maestro materialize --missing --workers $(WORKERS)

# The UIs start first; the graph fills in behind them (the chart UI shows how far). The servers'
# logs go to $(DAGSTER_HOME)/logs; Ctrl-C stops everything.
# Job control (set -m) starts the two servers with default signal handling: without it a
# non-interactive shell starts background jobs ignoring SIGINT, and dagster dev then ignored
# Ctrl-C and the trap's SIGTERM alike. dagster dev stops its webserver, daemon and code
# servers on SIGINT.
serve: dagster-home ## the API + chart UI and the Dagster UI, then materialize what is missing
	@set -m; MAESTRO_DAGSTER_URL=http://$(HOST):$(DAGSTER_PORT) $(VENV)/bin/maestro serve --host $(HOST) \
		--port $(API_PORT) --log-level warning > $(DAGSTER_HOME)/logs/api.log 2>&1 & api=$$!; \
	$(VENV)/bin/dagster dev -w workspace.yaml -h $(HOST) -p $(DAGSTER_PORT) --log-level warning \
		> $(DAGSTER_HOME)/logs/dagster.log 2>&1 & dagster=$$!; \
	trap 'kill $$api 2>/dev/null; kill -INT $$dagster 2>/dev/null; wait' EXIT INT TERM; \
	$(VENV)/bin/maestro wait-for http://$(HOST):$(API_PORT)/api/v2/health \
		http://$(HOST):$(DAGSTER_PORT)/server_info || exit 1; \
	echo "Maestro UI and API: http://$(HOST):$(API_PORT)   (API docs: http://$(HOST):$(API_PORT)/docs)"; \
	echo "Dagster UI:         http://$(HOST):$(DAGSTER_PORT)   (logs: $(DAGSTER_HOME)/logs)"; \
	$(VENV)/bin/maestro materialize --missing --workers $(WORKERS) || exit 1; \
	echo "The graph is materialized; serving until Ctrl-C."; \
	wait

test: setup-dev dagster-home lint frontend-test servers ## lint, unit, pipeline, API and browser tests
	$(VENV)/bin/pytest -q

lint: ## ruff, and the import layering (import-linter contracts in pyproject.toml)
	$(VENV)/bin/ruff check maestro_pipeline api tests benchmarks
	$(VENV)/bin/ruff format --check maestro_pipeline api tests benchmarks
	$(VENV)/bin/lint-imports

format:
	$(VENV)/bin/ruff format maestro_pipeline api tests benchmarks
	$(VENV)/bin/ruff check --fix maestro_pipeline api tests benchmarks

bench: setup-dev ## speed figures as JSON (not tests)
	for bench in benchmarks/bench_*.py; do $(VENV)/bin/python $$bench; done

clean: ## remove generated data, Dagster storage, environments and builds
	rm -rf data .dagster_home .venv .uv frontend/node_modules frontend/dist test-artifacts
