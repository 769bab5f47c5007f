# Maestro: `make run` sets everything up, materializes the sample and serves the Dagster UI;
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

.PHONY: run setup setup-dev dagster-home materialize dagster-dev test lint format bench clean

run: setup dagster-home materialize dagster-dev ## set up, materialize the sample, serve the UI

$(UV):
	$(PYTHON) -m venv .uv
	.uv/bin/pip install --quiet "uv>=0.9,<1"

setup: $(UV) ## install the project (locked dependencies) into .venv
	$(UV) sync --frozen

setup-dev: $(UV) ## install the project and the test tools into .venv
	$(UV) sync --frozen --extra dev

dagster-home:
	mkdir -p $(DAGSTER_HOME)
	ln -sfn $(CURDIR)/dagster.yaml $(DAGSTER_HOME)/dagster.yaml

materialize: dagster-home ## materialize every partition of the graph: bars, studies, reports
	$(VENV)/bin/maestro materialize

dagster-dev: dagster-home ## the Dagster webserver and daemon on $(HOST):$(DAGSTER_PORT)
	@echo "Dagster UI: http://$(HOST):$(DAGSTER_PORT)"
	$(VENV)/bin/dagster dev -w workspace.yaml -h $(HOST) -p $(DAGSTER_PORT)

test: setup-dev dagster-home lint ## lint, then the whole test suite
	$(VENV)/bin/pytest -q

lint:
	$(VENV)/bin/ruff check maestro_pipeline api tests benchmarks
	$(VENV)/bin/ruff format --check maestro_pipeline api tests benchmarks

format:
	$(VENV)/bin/ruff format maestro_pipeline api tests benchmarks
	$(VENV)/bin/ruff check --fix maestro_pipeline api tests benchmarks

bench: setup-dev ## speed figures as JSON (not tests)
	$(VENV)/bin/python benchmarks/bench_market_data.py

clean: ## remove generated data, Dagster storage and environments
	rm -rf data .dagster_home .venv .uv
