# Coachline — run `make help` for the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SERVICES := intake evaluation coaching kpi notifications
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install infra-up infra-down run test test-fast lint contracts bench bench-smoke clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): libs/pyproject.toml $(foreach s,$(SERVICES),services/$(s)/pyproject.toml) requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e 'libs[local]' $(foreach s,$(SERVICES),-e services/$(s)) -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install every package (editable) with the dev tools

infra-up: install ## Start Kafka (KRaft, jars from Maven Central) and PostgreSQL; waits until healthy
	$(BIN)/python -m coachline.devstack up

infra-down: install ## Stop Kafka and PostgreSQL
	$(BIN)/python -m coachline.devstack down

run: infra-up ## Run every service, the traffic generator, and print the URLs (Ctrl-C stops)
	$(BIN)/python -m coachline.stack

test: infra-up ## Run the whole suite against real Kafka and PostgreSQL
	$(BIN)/python -m pytest

test-fast: install ## Unit tests only (no Kafka, no PostgreSQL)
	$(BIN)/python -m pytest -m "unit"

lint: install ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/mypy

contracts: install ## Regenerate JSON Schemas, AsyncAPI and OpenAPI documents in contracts/
	$(BIN)/python contracts/generate.py contracts

bench: infra-up ## Benchmark intake, end to end, kpi, memory and the machine's limit; table + .artifacts/bench.json
	$(BIN)/python bench/bench.py --out .artifacts/bench.json

bench-smoke: infra-up ## The benchmark with tiny sizes (CI): proves it runs, asserts no timings
	$(BIN)/python bench/bench.py --smoke --out .artifacts/bench-smoke.json

clean: infra-down ## Stop the infrastructure and delete local state
	rm -rf .local
