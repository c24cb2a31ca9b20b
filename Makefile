# Two commands: `make dev` serves the API locally, `make test` runs every check.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export PATH := $(CURDIR)/.venv/bin:$(PATH)

.PHONY: help bootstrap print-tools dev test e2e bench soak fmt lint unit-and-integration template-lint openapi-lint fuzz dev-stays-up sam-local clean

help:
	@echo "make dev    - local AWS emulator + the whole API on http://127.0.0.1:9000"
	@echo "make test   - formatting, clippy, unit and integration tests, template lint"
	@echo "make fuzz   - schemathesis against a local stack (part of make test)"
	@echo "make e2e    - the operator console in headless Chromium against a local stack (part of make test)"
	@echo "make bench  - the measurements in BENCHMARKS.md (not part of make test)"
	@echo "make soak   - the model-based test with many more sequences: make soak SEED=7 CASES=500"
	@echo "make sam-local - sam build, every event through sam local invoke, the seed's examples through sam local start-api (not part of make test)"

bootstrap:
	@scripts/bootstrap.sh

dev:
	@scripts/dev.sh

test: bootstrap fmt lint unit-and-integration template-lint openapi-lint fuzz dev-stays-up

fmt:
	cargo fmt --all -- --check

lint:
	cargo clippy --workspace --all-targets -- -D warnings

# LibreOffice and poppler from Debian, for the test that prints an export.
print-tools:
	@scripts/print-tools.sh

# Unit tests, and integration tests against a moto server this run starts and stops.
unit-and-integration: print-tools
	scripts/with-moto.sh cargo test --workspace

# Benchmarks print Markdown tables for BENCHMARKS.md; they never run in `make test`.
# The handler benchmark runs with the malloc tuning the functions get from template.yaml.
GLIBC_TUNABLES := $(shell . scripts/stack.sh && template_setting GLIBC_TUNABLES)
bench: bootstrap
	scripts/with-moto.sh cargo test -p api-tests -- --ignored --nocapture --test-threads 1
	scripts/bench-xlsx.sh 1000000
	scripts/bench-codegen.sh 1000000 12
	GLIBC_TUNABLES=$(GLIBC_TUNABLES) cargo bench --profile measure -p consume --bench handler
	scripts/bench-load.sh
	scripts/bench-coldstart.sh 40

# The model-based test of tests/api/model.rs, longer: CASES sequences from SEED
# (a random seed, printed, when not given).
CASES ?= 500
soak: bootstrap
	MODEL_CASES=$(CASES) $(if $(SEED),MODEL_SEED=$(SEED)) scripts/with-moto.sh \
	  cargo test -p api-tests model::every_ordering -- --nocapture

template-lint:
	scripts/lint-template.sh .venv/bin

# The routes in openapi.yaml are checked against template.yaml by the tests.
openapi-lint:
	.venv/bin/openapi-spec-validator openapi.yaml

# schemathesis against a private local stack: no 5xx, every answer as openapi.yaml says.
fuzz: bootstrap
	scripts/fuzz.sh

# make dev's stack under a minute of git commands, then a source change:
# it must keep answering (scripts/dev-stays-up.sh); then the examples and
# the console's browser test run against it.
dev-stays-up: bootstrap
	scripts/dev-stays-up.sh 60

# The console's browser test against a stack of its own; make test runs it
# against dev-stays-up's. E2E_SCREENSHOTS=docs renews the README's pictures.
e2e: bootstrap
	scripts/e2e.sh

# The template as SAM runs it, in containers (scripts/sam-local.sh): minutes,
# and it needs a Docker engine (installed from Debian if missing), so it is
# not part of make test.
sam-local: bootstrap
	scripts/sam-local.sh

clean:
	rm -rf .dev .env.local
