# The one interface: every command a developer, CI or a new user runs is a target here.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Node 22 from npm (package.json) runs jsii and the CDK CLI; Node 20 is end-of-life for jsii.
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
LAYER_DIR := .build/lambda-layer
# The trader console as served and deployed: web/console plus npm mqtt's browser bundle (vendor/mqtt.min.js).
CONSOLE_SITE := .build/console
CONSOLE_SOURCES := $(wildcard web/console/*.html web/console/*.js web/console/*.css)
# The Lambda runtime: arm64, Python 3.14 (stacks/constructs/lambda_function.py). numpy 2.4 ships
# manylinux_2_28 wheels only, which Lambda's Amazon Linux 2023 (glibc 2.34) runs.
LAYER_PLATFORMS := --platform manylinux_2_28_aarch64 --platform manylinux2014_aarch64
LAYER_PYTHON := 3.14

.PHONY: help setup system-packages build schema synth deploy destroy test test-fast lint format snapshot-update \
	price bench coverage demo replay diagram cost console screenshot redrive soak constraints clean iam-check

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt requirements-dev.txt lambdas/requirements.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==25.3
	$(PY) -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

web/console/node_modules/.installed: web/console/package.json web/console/package-lock.json node_modules/.installed
	npm ci --prefix web/console --no-audit --no-fund --loglevel=error
	touch $@

$(CONSOLE_SITE)/index.html: $(CONSOLE_SOURCES) web/console/node_modules/.installed $(VENV)/.installed
	$(PY) -m local_engine.console_server build $(CONSOLE_SITE)

$(LAYER_DIR)/.installed: lambdas/requirements.txt $(VENV)/.installed
	rm -rf $(LAYER_DIR)
	$(PY) -m pip install --quiet --no-deps --no-compile $(LAYER_PLATFORMS) --implementation cp \
		--python-version $(LAYER_PYTHON) --only-binary=:all: --target $(LAYER_DIR)/python -r lambdas/requirements.txt
	touch $@

system-packages: ## Install Mosquitto (local MQTT broker) and Chromium (browser tests) with apt; sudo when not root
	@{ command -v mosquitto >/dev/null || test -x /usr/sbin/mosquitto; } && command -v chromium >/dev/null || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq mosquitto chromium >/dev/null; }

setup: $(VENV)/.installed node_modules/.installed web/console/node_modules/.installed system-packages ## Install Python, Node and system tooling (pinned)

build: setup $(LAYER_DIR)/.installed $(CONSOLE_SITE)/index.html ## Build the arm64 Lambda layer (pip --platform, no Docker) and the console site

schema: setup ## Regenerate docs/schemas/feed-event.schema.json from the pydantic models
	$(PY) -m lambdas.models.schema

synth: build ## Synthesize every stack into cdk.out (STAGE=prod for prod)
	npx cdk synth --quiet -c trading-engine:stage=$(or $(STAGE),dev)

deploy: build ## Deploy every stack to the account in your AWS credentials (STAGE=prod for prod)
	npx cdk deploy --all -c trading-engine:stage=$(or $(STAGE),dev)

destroy: setup ## Delete the dev stacks (prod keeps its tables: deletion protection)
	npx cdk destroy --all -c trading-engine:stage=$(or $(STAGE),dev)

test: build lint coverage ## Set everything up and run every test
	$(PY) -m pytest $(ARGS)

coverage: setup ## The domain core's unit and property tests, which must cover every branch of lambdas/domain
	$(PY) -m coverage run --branch --source=lambdas/domain --data-file=.build/.coverage -m pytest -q -p no:cacheprovider tests/unit/domain
	$(PY) -m coverage report --data-file=.build/.coverage --show-missing --fail-under=100

test-fast: build ## Unit and handler tests only (no synth)
	$(PY) -m pytest tests/unit tests/handlers $(ARGS)

lint: setup ## Check style, formatting and types (never rewrites files)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

format: setup ## Rewrite files to the project's style
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

snapshot-update: build ## Accept infrastructure snapshot changes (read the diff first)
	$(PY) -m pytest tests/infrastructure/test_snapshots.py --snapshot-update

price: setup ## Quote a book: make price ARGS="--home-goals 1.6 --away-goals 1.1 --minute 30 --score 1-0"
	@$(PY) -m lambdas.pricing.cli $(ARGS)

bench: synth ## Run the benchmarks (results in bench/results/, quoted in the README)
	$(PY) -m bench.bench_pricing
	$(PY) -m bench.bench_pipeline
	$(PY) -m bench.bench_kafka_path
	$(PY) -m bench.bench_console

demo: synth ## Play whole matches through the real workflow and handlers locally: make demo ARGS="--json" (VIA=kafka: Kafka to Kafka through the on-prem bridges)
	$(PY) -m local_engine.demo $(if $(VIA),--via $(VIA)) $(ARGS)

replay: synth ## Replay a JSON-lines feed locally: make replay FILE=feed.jsonl ARGS="--speed 10 --json"
	$(PY) -m local_engine.replay $(or $(FILE),-) $(ARGS)

diagram: synth ## Regenerate docs/architecture.drawio and docs/architecture.svg from the synthesized app
	$(PY) -m tools.diagram cdk.out docs

cost: build ## Cost of a million feed events, engine vs the Lambda->SNS chain: make cost ARGS="--subscribers 1000"
	npx cdk synth --quiet -c trading-engine:stage=$(or $(STAGE),prod) -o .build/cdk.out.cost >/dev/null
	@$(PY) -m tools.cost .build/cdk.out.cost $(ARGS)

console: synth ## The trader console on http://127.0.0.1:8080 against the local engine, matches playing
	$(PY) -m local_engine.console $(ARGS)

screenshot: synth ## Write docs/images/trader-console.png: the console on the local engine, in headless Chromium
	$(PY) -m tests.browser.console_demo screenshot docs/images/trader-console.png

redrive: setup ## Redrive quarantined events: make redrive ARGS="--stack TradingEngine-dev-Feed" (or --local FEED.jsonl)
	$(PY) -m local_engine.redrive $(ARGS)

soak: synth ## The soak: 10,000 events, 200 fixtures, faults; report in bench/results/soak.json
	$(PY) -m bench.bench_soak $(ARGS)

iam-check: synth ## Every role's grants, role -> action -> resource -> where used; fails on a workflow grant no state uses
	$(PY) -m tools.iam_check cdk.out

constraints: ## Re-pin every transitive package after a requirements change
	rm -rf .constraints-venv && $(PYTHON) -m venv .constraints-venv
	.constraints-venv/bin/pip install --quiet -r requirements-dev.txt
	{ head -2 constraints.txt; .constraints-venv/bin/pip freeze; } > constraints.new && mv constraints.new constraints.txt
	rm -rf .constraints-venv

clean: ## Remove build output (keeps the virtual environment and node_modules)
	rm -rf cdk.out .build .pytest_cache .local-engine
