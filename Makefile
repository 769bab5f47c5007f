# Maestro: `make run` sets everything up, materializes the sample and serves the UIs;
# `make test` installs what the tests need and runs them all.

SHELL := /bin/bash
PYTHON ?= python3
UV := .uv/bin/uv
VENV := .venv
export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never
export DAGSTER_HOME := $(CURDIR)/.dagster_home
HOST ?= 127.0.0.1
DAGSTER_PORT ?= 3000
API_PORT ?= 8000
CHROMIUM ?= /usr/bin/chromium

.PHONY: run setup setup-dev dagster-home frontend frontend-test servers materialize serve \
	test lint format bench clean

run: setup frontend dagster-home materialize serve ## set up, materialize the sample, serve the UIs

$(UV):
	$(PYTHON) -m venv .uv
	.uv/bin/pip install --quiet "uv>=0.9,<1"

setup: $(UV) ## install the project (locked dependencies) into .venv
	$(UV) sync --frozen

setup-dev: $(UV) ## install the project and the test tools into .venv
	$(UV) sync --frozen --extra dev --extra distributed

frontend: ## build the chart UI into frontend/dist (from package-lock.json)
	cd frontend && npm ci --no-audit --no-fund && npm run build

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
	mkdir -p $(DAGSTER_HOME)
	ln -sfn $(CURDIR)/dagster.yaml $(DAGSTER_HOME)/dagster.yaml

materialize: dagster-home ## materialize every partition of the graph: bars, studies, reports
	$(VENV)/bin/maestro materialize --job market_data_job
	$(VENV)/bin/maestro materialize --job walk_forward_job --workers 2
	$(VENV)/bin/maestro materialize --job leaderboard_job

serve: dagster-home ## the API + chart UI and the Dagster UI (webserver and daemon)
	@echo "Maestro UI and API: http://$(HOST):$(API_PORT)   (API docs: http://$(HOST):$(API_PORT)/docs)"
	@echo "Dagster UI:         http://$(HOST):$(DAGSTER_PORT)"
	MAESTRO_DAGSTER_URL=http://$(HOST):$(DAGSTER_PORT) \
		$(VENV)/bin/maestro serve --host $(HOST) --port $(API_PORT) & api=$$!; \
	trap 'kill $$api 2>/dev/null' EXIT INT TERM; \
	$(VENV)/bin/dagster dev -w workspace.yaml -h $(HOST) -p $(DAGSTER_PORT)

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
