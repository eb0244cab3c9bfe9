# understudy: a programmable stand-in MySQL server.
SHELL := /bin/bash
CARGO ?= cargo
SHARED ?= $(abspath ../shared)
PORT ?= 4040

.PHONY: build run test deps unit compat lint bench fuzz ci clean

# Build the release binary.
build:
	$(CARGO) build --release

# Run the server on its built-in answers at 127.0.0.1:$(PORT).
run: build
	./target/release/understudy --port $(PORT)

# Install what the tests need, then run every test (unit, integration, real clients).
test: deps unit compat

# System packages and Python clients for the real-client checks (idempotent).
# gawk: the CLI checks sum 200,000 ids with awk, beyond what mawk's %d prints.
deps:
	bash $(SHARED)/compat/setup.sh
	command -v gawk >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gawk)

# Unit and integration tests (Rust `mysql` crate, raw sockets).
unit:
	$(CARGO) test --release

# Real clients (mariadb CLI, PyMySQL, mysql-connector-python) against a server started here.
compat: build
	bash scripts/compat.sh $(SHARED)

# Formatting and lints, warnings as errors.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

# Benchmarks (see benches/ and the README).
bench: build
	SHARED=$(SHARED) bash benches/run.sh

# What CI runs.
ci: test

clean:
	$(CARGO) clean
