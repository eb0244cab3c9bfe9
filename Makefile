# understudy: a programmable stand-in MySQL server.
SHELL := /bin/bash
CARGO ?= cargo
SHARED ?= $(abspath ../shared)
PORT ?= 4040
# The shipped binary is one static executable (glibc's static libc, static-pie):
# nothing to install beside it on a minimal host, and an idle server maps no
# shared libraries (2.1 MiB RSS instead of 3.2 MiB, mostly libc's and libm's
# pages). Built for the host triple explicitly, so that the flag reaches only
# the binary and not build scripts or the test suite's proc-macros.
# STATIC=0 builds the ordinary dynamically linked binary instead.
STATIC ?= 1
TRIPLE := $(shell rustc -vV | sed -n 's/^host: //p')
ifeq ($(STATIC),1)
BIN := target/$(TRIPLE)/release/understudy
BUILD := RUSTFLAGS="-C target-feature=+crt-static" $(CARGO) build --release --bin understudy --target $(TRIPLE)
else
BIN := target/release/understudy
BUILD := $(CARGO) build --release --bin understudy
endif

.PHONY: build run test deps unit compat pytest drivers lint bench soak fuzz ci clean

# Build the release binary ($(BIN)).
build:
	$(BUILD)

# Run the server on its built-in answers at 127.0.0.1:$(PORT).
run: build
	./$(BIN) --port $(PORT)

# Install what the tests need, then run every test (unit, integration, real clients).
test: deps lint unit compat pytest drivers

# System packages and Python clients for the real-client checks (idempotent).
# gawk: the CLI checks sum 200,000 ids with awk, beyond what mawk's %d prints.
# openssl: the TLS tests and the drivers' tls mode make their CA with it.
deps:
	bash $(SHARED)/compat/setup.sh
	command -v gawk >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gawk)
	command -v openssl >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl)
	for f in scripts/drivers/install-*.sh; do bash "$$f" || exit 1; done

# Unit and integration tests (Rust `mysql` crate, raw sockets).
unit:
	$(CARGO) test --release

# Real clients (mariadb CLI, PyMySQL, mysql-connector-python) against a server started here.
compat: build
	UNDERSTUDY_BIN=$(abspath $(BIN)) bash scripts/compat.sh $(SHARED)

# The pytest kit (python/: pip install ./python) and the real-client tests of
# the JSON rules, the journal and the admin port (PyMySQL, mysql-connector-python,
# SQLAlchemy, the mariadb CLI, mariadb-slap, sysbench), on servers started here.
pytest: build
	UNDERSTUDY_BIN=$(abspath $(BIN)) bash scripts/pytest.sh

# The driver matrix (scripts/drivers/): Python, Node, PHP, Perl, Go, Java
# and sysbench clients, text and prepared, against the built-in answers and
# examples/rules.lua, on servers started here.
drivers: build
	UNDERSTUDY_BIN=$(abspath $(BIN)) bash scripts/drivers.sh

# Formatting and lints, warnings as errors.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

# Benchmarks (see benches/ and the README); BENCH_QUICK=1 for one short rep.
bench: build
	UNDERSTUDY_BIN=$(abspath $(BIN)) SHARED=$(SHARED) bash benches/run.sh

# Fuzz each target in fuzz/ for FUZZ_SECONDS (nightly, cargo-fuzz); print inputs run and crashes.
FUZZ_SECONDS ?= 60
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash fuzz/run.sh

# Soak (a bench, not a test): SOAK_CONNS (19000) connections held for
# SOAK_SECONDS (600) beside a mixed, partly hostile load, server RSS sampled;
# on the built-in answers, then with the seed script (see benches/soak.sh).
soak: build
	UNDERSTUDY_BIN=$(abspath $(BIN)) SHARED=$(SHARED) bash benches/soak.sh

# What CI runs.
ci: test

clean:
	$(CARGO) clean
