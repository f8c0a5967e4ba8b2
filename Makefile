# One entry point for building and testing; the README names these targets
# and .ci/run calls `make test`.
SHELL := /bin/bash
CARGO ?= cargo
FIXTURES := target/fixtures

.PHONY: all build fixtures test test-rust test-c header demo lint clean

all: build

build:
	$(CARGO) build --release -p extism-core -p extism-capi

# The AssemblyScript PDK plugins, compiled from source (npm installs the
# compiler and the official @extism/as-pdk).
fixtures:
	tests/fixtures/pdk/build.sh $(FIXTURES)

# Only the Rust crates: the Python and Node extension crates link against
# their interpreters and are tested through their own suites.
test-rust: fixtures
	$(CARGO) test --release -p extism-core -p extism-capi

test-c: build fixtures
	tests/c/run.sh

test: test-rust test-c

# Regenerate include/extism.h from capi/src (the header test checks it).
header:
	UPDATE_HEADER=1 $(CARGO) test --release -p extism-capi --test header

# The main job: the bundled example plugin run through the C API.
demo: build
	cc -std=c11 -Wall -Werror -o target/release/count_vowels examples/count_vowels.c \
	  -Iinclude -Ltarget/release -lextism -Wl,-rpath,$(CURDIR)/target/release
	target/release/count_vowels examples/count_vowels.wat "Hello, World!"

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings

clean:
	$(CARGO) clean
