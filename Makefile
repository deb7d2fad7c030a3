# Makefile — developer entry points for boxoffice. Run `make help`.
#
# Local PostgreSQL/Redis come from scripts/stack.sh (installed via apt if
# missing). A pre-set BOXOFFICE_DATABASE_URL / BOXOFFICE_REDIS_URL is respected.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

CARGO ?= cargo
STACK := scripts/stack.sh
BIN   := target/release/boxoffice
# Prefix for recipe lines that need the dev profile's BOXOFFICE_* variables.
DEV_ENV := eval "$$($(STACK) env dev)";

.PHONY: help run stop status test fmt lint build migrate seed bench clean-var dev-stack audit loadtest loadtest-quick chaos

help: ## List targets
	@echo "boxoffice make targets:"
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "} {printf "  %-10s %s\n", $$1, $$2}'

dev-stack:
	$(STACK) up dev

build: ## cargo build --release --bin boxoffice
	$(CARGO) build --release --bin boxoffice

migrate: dev-stack build ## Start the dev stack and apply migrations
	$(DEV_ENV) $(BIN) migrate

seed: migrate ## Migrate, then load the demo data set (idempotent)
	$(DEV_ENV) $(BIN) seed --demo

run: seed ## Dev stack + build + migrate + seed, then serve (BOXOFFICE_LISTEN_ADDR, default 127.0.0.1:8080)
	$(DEV_ENV) exec $(BIN) serve --routes all --with-worker

stop: ## Stop the dev PostgreSQL and Redis
	$(STACK) down dev

status: ## Show the state of the dev and test stacks
	@$(STACK) status dev || true
	@$(STACK) status test || true

test: ## fmt check + clippy + cargo test against a throwaway test stack (what CI runs)
	scripts/test.sh

audit: ## cargo deny: licenses, duplicate crates, sources (AUDIT_ADVISORIES=1 adds advisories; needs GitHub)
	scripts/audit.sh

fmt: ## cargo fmt
	$(CARGO) fmt --all

lint: ## cargo fmt --check + clippy -D warnings
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

bench: ## cargo bench
	$(CARGO) bench

loadtest: ## Load harness, full run (~25 min): baselines, wrk, k6, stampedes, invariants, 10 M rows (loadtest/README.md)
	loadtest/run.sh

loadtest-quick: ## Load harness, quick run (~5 min): short runs, small data set, no scaling phase
	loadtest/run.sh --quick

chaos: ## Failure drills (~10 min) on Patroni x3 + HAProxy + 3 pods: chaos/results/<run>/report.md (chaos/README.md)
	flock /tmp/boxoffice-measure.lock env CHAOS_RELEASE=1 scripts/chaos.sh --drills all --cost-of-ha --netns

clean-var: ## Stop both stacks and delete ./var (all local data)
	$(STACK) purge dev
	$(STACK) purge test
	rm -rf var
