# MemberPulse: `make run` serves the dashboard on a demo retailer; `make test` runs every test.
# Both install what is missing first (see scripts/setup.sh).
SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(PATH)
# The site's file names (leptos reads it when it compiles); set for every cargo call so that
# scripts/build.sh, `cargo test` and `cargo leptos` share one build of the crates.
export LEPTOS_OUTPUT_NAME := memberpulse

DATA_DIR ?= data
DEMO_MEMBERS ?= 20000
ADDR ?= 127.0.0.1:3000

.PHONY: run test build release setup setup-test setup-release bench-generate clean-data

setup:
	scripts/setup.sh

setup-test:
	scripts/setup.sh --test

setup-release:
	scripts/setup.sh --release

# The server (target/debug/memberpulse) and the site (target/site): scripts/build.sh does what
# `cargo leptos build` would, with cargo and wasm-bindgen only.
build: setup
	scripts/build.sh

# An optimised server and site (wasm-opt), packed with DuckDB's library beside the binary
# into target/dist/memberpulse/ and a .tar.gz, to copy to a server (docs/operations.md).
release: setup-release
	scripts/build.sh --release
	scripts/package.sh

# The first run makes the admin `admin` with a random password, printed once (a lost one:
# `memberpulse user set --name admin --new-password`); later runs leave it.
run: build
	./target/debug/memberpulse user add --name admin --role admin --if-missing --data-dir $(DATA_DIR)
	./target/debug/memberpulse serve --addr $(ADDR) --data-dir $(DATA_DIR) --demo-members $(DEMO_MEMBERS)

test: setup-test
	cargo fmt --all --check
	scripts/build.sh
	cargo clippy --workspace --all-targets -- -D warnings
	cargo test --workspace
	scripts/served-checks.sh 25

# Times `generate` for a million members into a scratch data dir.
bench-generate: build
	rm -rf target/bench-data
	/usr/bin/time -v ./target/debug/memberpulse generate --members 1000000 --data-dir target/bench-data 2>&1 | grep -E "generated|Maximum resident|Elapsed"

clean-data:
	rm -rf $(DATA_DIR)
