# Health data platform: `make help` lists the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml requirements.lock | cksum | cut -d' ' -f1)

.DEFAULT_GOAL := help
.PHONY: help install run test test-unit test-integration test-deploy test-e2e lint format bench bench-api bench-etl bench-year bench-fhir lock docs

help: ## Show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements.lock
	@bash scripts/install-venv.sh $(VENV) $(PYTHON)
	@rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP) ## Create .venv and install the pinned dependencies

PORT ?= 8000
run: install ## Run the whole platform locally on http://localhost:8000 (other port: make run PORT=8080)
	@$(BIN)/healthplatform up --port $(PORT)

test: install ## Every test tier (unit, integration, deploy checks, browser); skips fail
	bash scripts/ensure-services.sh
	bash scripts/ensure-browser.sh
	bash scripts/ensure-promtool.sh >/dev/null
	$(BIN)/python scripts/fetch_test_artifacts.py >/dev/null  # see README, "External test artifacts"
	HP_TEST_STRICT=1 $(BIN)/python -m pytest -q -p no:cacheprovider

test-unit: install ## Unit tests only (no servers needed)
	$(BIN)/python -m pytest -q tests/unit

test-integration: install ## Integration tests (PostgreSQL, Redis, RabbitMQ, moto S3)
	$(BIN)/python -m pytest -q tests/integration

test-deploy: install ## Offline checks of Terraform/Helm/Argo CD files
	$(BIN)/python -m pytest -q tests/deploy

test-e2e: install ## Browser tests (Debian chromium + playwright-core; see scripts/ensure-browser.sh)
	bash scripts/ensure-browser.sh
	$(BIN)/python -m pytest -q tests/e2e

lint: install ## ruff (lint + format check) and mypy --strict
	$(BIN)/ruff check src tests scripts
	$(BIN)/ruff format --check src tests scripts
	$(BIN)/mypy

format: install ## Apply ruff formatting and safe fixes
	$(BIN)/ruff check --fix src tests scripts
	$(BIN)/ruff format src tests scripts

bench: bench-api bench-etl bench-year ## All benchmarks

bench-api: install ## Upload throughput/latency vs bare S3 PUTs (production backends)
	$(BIN)/python scripts/bench_api.py

bench-etl: install ## ETL records/s vs bare fastavro decoding (production backends)
	$(BIN)/python scripts/bench_etl.py

bench-year: install ## A person's dense year: process, rederive, day view, narratives, export
	$(BIN)/python scripts/bench_year.py

bench-fhir: install ## Peak memory growth while a year is exported as FHIR (PostgreSQL)
	$(BIN)/python scripts/bench_fhir.py

docs: install ## Regenerate the generated tables in docs/ (settings, metric definitions, error codes)
	$(BIN)/python scripts/gen_config_doc.py

lock: ## Re-resolve and pin every dependency into requirements.lock
	rm -rf /tmp/hp-lock && $(PYTHON) -m venv /tmp/hp-lock
	/tmp/hp-lock/bin/pip install -q -e '.[dev]'
	/tmp/hp-lock/bin/pip freeze --exclude-editable | grep -v '^healthplatform' > requirements.lock
