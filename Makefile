# sg-remediator: build, test, lint, demo, package, bench.
# `make test` is the project's test command; `.ci/run` runs every check of `make lint` (clippy
# compiled into `make build-all`) and `make test`.
# `make test` and `make lint` first run scripts/setup.sh, the one list of prerequisites: it installs
# what is missing (musl-tools, python3, the musl target, rustfmt, clippy) or stops with the command
# to run, and takes ~0.1 s when everything is present.

CARGO ?= cargo

.PHONY: all setup build test build-all lint lint-source fmt demo demo-org package bench clean

all: build

setup:
	scripts/setup.sh

build:
	$(CARGO) build --release

# --workspace: the product at the root and the crates under crates/ (acs-openapi, fc-runtime,
# acs-emulator, test-kit). Every target that holds tests: not the examples (demo, bench,
# transport_floor: no tests; `make demo` and `make bench` run them, `make lint` checks them) nor
# the criterion benches (`make bench` runs them, `make lint` checks them); building them here
# would only slow the suite.
TEST_TARGETS := --workspace --lib --bins --tests

test: setup
	$(CARGO) test $(TEST_TARGETS)
	$(CARGO) test --workspace --doc

# Every target of the workspace built, nothing run. With clippy-driver as this workspace's
# compiler and warnings as errors (as `.ci/run` sets them), this one build is also clippy's lint
# of every target, and leaves `make test` nothing to compile.
build-all: setup
	$(CARGO) test --workspace --all-targets --no-run

lint: lint-source
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Every check of `make lint` but clippy's: formatting, the crates' layering, Terraform's
# formatting.
lint-source: setup
	$(CARGO) fmt --all --check
	scripts/check-layering.sh
	@if command -v terraform >/dev/null 2>&1; then \
		echo "terraform fmt -check -recursive terraform/"; \
		terraform fmt -check -recursive terraform/; \
	else \
		echo "terraform not installed: terraform fmt check skipped"; \
	fi

fmt:
	$(CARGO) fmt

# Starts the real bootstrap on a free port and sends it a Config-shaped event.
# ORG=1 (or `make demo-org`): an aggregator event across a management and two member accounts.
# NARROW=CIDRS (e.g. `make demo NARROW=203.0.113.0/24`): the function runs with
# REMEDIATION_ACTION=narrow and ALLOWED_SOURCE_CIDRS=CIDRS, narrowing world-open rules to them.
demo:
	$(CARGO) build --bin bootstrap
	$(if $(NARROW),REMEDIATION_ACTION=narrow ALLOWED_SOURCE_CIDRS='$(NARROW)') $(CARGO) run --quiet --example demo -- target/debug/bootstrap $(if $(ORG),--org)

demo-org:
	$(MAKE) demo ORG=1

package:
	scripts/package.sh

bench:
	scripts/bench.sh

clean:
	$(CARGO) clean
	rm -rf dist
