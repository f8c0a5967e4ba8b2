# One entry point for building and testing; the README names these targets
# and .ci/run calls `make test`.
SHELL := /bin/bash
CARGO ?= cargo
FIXTURES := target/fixtures
# Where cargo puts its output (CARGO_TARGET_DIR is honoured).
TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)
RELEASE := $(TARGET_DIR)/release
export EXTISM_LIB_DIR := $(RELEASE)

.PHONY: all build install test-install dist test-dist fixtures test test-rust test-c test-leaks test-python test-node test-conformance test-soak soak test-loom test-asan test-leaks-frontends fuzz header demo lint clean

all: build

VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
SOMAJOR := $(firstword $(subst ., ,$(VERSION)))

build:
	$(CARGO) build --release -p extism-core -p extism-capi -p extism-cli
	# Programs linked in the tree record the soname; let them find it here too.
	ln -sf libextism.so $(RELEASE)/libextism.so.$(SOMAJOR)

# The system libraries the Rust static library libextism.a needs, as rustc
# prints them (`cargo rustc --release -p extism-capi --lib -- --print
# native-static-libs`); test-dist links a program with them.
NATIVE_STATIC_LIBS := -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
SUBST = sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|g' -e 's|@SOMAJOR@|$(SOMAJOR)|g' \
  -e 's|@NATIVE_STATIC_LIBS@|$(NATIVE_STATIC_LIBS)|g' \
  -e 's|@NATIVE_STATIC_LIBS_CMAKE@|$(subst $(eval) ,;,$(patsubst -l%,%,$(NATIVE_STATIC_LIBS)))|g'

# Install the C library (libextism.so with its soname links, and the static
# libextism.a), the headers (extism.h, and extism-ext.h for this library's
# extensions), extism.pc and extism-static.pc, the CMake package
# (lib/cmake/extism: targets extism::extism and extism::extism-static) and
# the `extism` command under PREFIX.
PREFIX ?= /usr/local
install: build
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/lib/cmake/extism \
	  $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(RELEASE)/libextism.so $(DESTDIR)$(PREFIX)/lib/libextism.so.$(VERSION)
	strip --strip-debug $(DESTDIR)$(PREFIX)/lib/libextism.so.$(VERSION)
	ln -sf libextism.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libextism.so.$(SOMAJOR)
	ln -sf libextism.so.$(SOMAJOR) $(DESTDIR)$(PREFIX)/lib/libextism.so
	install -m 644 $(RELEASE)/libextism.a $(DESTDIR)$(PREFIX)/lib/libextism.a
	strip --strip-debug $(DESTDIR)$(PREFIX)/lib/libextism.a
	install -m 644 include/extism.h include/extism-ext.h $(DESTDIR)$(PREFIX)/include/
	$(SUBST) capi/extism.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/extism.pc
	$(SUBST) capi/extism-static.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/extism-static.pc
	$(SUBST) capi/cmake/extismConfig.cmake.in > $(DESTDIR)$(PREFIX)/lib/cmake/extism/extismConfig.cmake
	$(SUBST) capi/cmake/extismConfigVersion.cmake.in \
	  > $(DESTDIR)$(PREFIX)/lib/cmake/extism/extismConfigVersion.cmake
	install -m 755 $(RELEASE)/extism $(DESTDIR)$(PREFIX)/bin/extism
	strip --strip-debug $(DESTDIR)$(PREFIX)/bin/extism

# Install into a scratch prefix and build the C example from the installed
# files alone, through pkg-config.
test-install:
	rm -rf target/install-test
	$(MAKE) install PREFIX=$(CURDIR)/target/install-test
	cc -std=c11 -Wall -Werror -o target/install-test/count_vowels examples/count_vowels.c \
	  $$(PKG_CONFIG_PATH=$(CURDIR)/target/install-test/lib/pkgconfig pkg-config --cflags --libs extism) \
	  -Wl,-rpath,$(CURDIR)/target/install-test/lib
	test "$$(target/install-test/count_vowels examples/count_vowels.wat aeiou | head -1)" = '{"count":5}'
	readelf -d target/install-test/lib/libextism.so | grep -q 'SONAME.*libextism.so.$(SOMAJOR)'
	target/install-test/bin/extism call examples/count_vowels.wat count_vowels -i aeiou
	@echo

# The installable artifacts in dist/ (packaging/dist.sh): the Python wheel
# (abi3, manylinux) and sdist, the Node package and its platform package with
# the prebuilt addon, the C archive extism-<version>-<target>.tar.gz, and
# SHA256SUMS. Built in the shared target dir with the release profile.
dist: build
	packaging/dist.sh

# Install each artifact of dist/ as a user would, with no Rust on PATH and no
# registry, and run the example plugin through it (packaging/test-dist.sh).
test-dist: dist
	command -v cmake >/dev/null || (apt-get update -qq && apt-get install -y -qq cmake)
	command -v pkg-config >/dev/null || (apt-get update -qq && apt-get install -y -qq pkg-config)
	packaging/test-dist.sh

# The AssemblyScript PDK plugins, compiled from source (npm installs the
# compiler and the official @extism/as-pdk).
fixtures:
	tests/fixtures/pdk/build.sh $(FIXTURES)

# Only the Rust crates: the Python and Node extension crates link against
# their interpreters and are tested through their own suites.
test-rust: fixtures
	$(CARGO) test --release -p extism-core -p extism-capi -p extism-cli

# The pool's hand-out, the cancel generations, SharedPlugin's lock and the
# Node addon's thread hand-off under loom: every interleaving of a few threads
# (each crate's `loom` feature swaps in loom's primitives).
test-loom:
	$(CARGO) test --release -p extism-core --features loom --lib loom_
	$(CARGO) test --release -p extism-node --features loom --lib loom_

test-c: build fixtures
	tests/c/run.sh

test: lint fuzz test-rust test-loom test-install test-leaks test-python test-node test-dist test-conformance test-c test-soak

# The Python package (a venv in .venv, pip install from source, pytest, stubtest).
test-python: fixtures
	bindings/python/test.sh

# The Node addon (npm install, cargo build, tsc, node --test).
test-node: fixtures
	bindings/node/test.sh

# tests/conformance/cases.json through C, Python and Node: the three must agree.
test-conformance: build test-python test-node
	tests/conformance/run.sh

# Soak and create/free churn of C, Python and Node (tests/soak/README.md):
# a minute each in `make test`; `make soak` is the long form.
SOAK_SECONDS ?= 3600
SOAK_CYCLES ?= 100000
test-soak: build test-python test-node
	tests/soak/run.sh 60 20000

soak: build test-python test-node
	tests/soak/run.sh $(SOAK_SECONDS) $(SOAK_CYCLES)

# The C suite under valgrind: no definite or indirect leaks, no invalid
# accesses. (Uninitialised-value reports come from inside wasmparser's
# optimised code and are not checked here.)
test-leaks: build fixtures
	command -v valgrind >/dev/null || (apt-get update -qq && apt-get install -y -qq valgrind)
	EXTISM_TEST_SECTION_TIMEOUT=1200 EXTISM_TEST_WRAPPER="valgrind -q --leak-check=full \
	  --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
	  --undef-value-errors=no --error-exitcode=9" tests/c/run.sh

# The Python suite and five Node test files under valgrind
# (tests/leaks/run_frontends.py says what is allowed for the interpreters).
# Not part of `make test`: with a cold wasmtime cache every module compiles
# under valgrind, which can take many minutes.
test-leaks-frontends: build fixtures test-python test-node
	command -v valgrind >/dev/null || (apt-get update -qq && apt-get install -y -qq valgrind)
	tests/leaks/run_frontends.py

# The C API under AddressSanitizer (the nightly toolchain's -Zsanitizer=address;
# not part of `make test`, which it would lengthen by a second full build):
# libextism built instrumented, its Rust tests, and the C suite built with
# -fsanitize=address against it. wasmtime handles its own SIGSEGV (traps),
# so ASan must leave that signal alone.
ASAN_DIR ?= $(CURDIR)/target/asan
ASAN_LIB := $(ASAN_DIR)/x86_64-unknown-linux-gnu/release
ASAN_ENV := ASAN_OPTIONS=handle_segv=0:handle_sigbus=0:handle_sigfpe=0:allow_user_segv_handler=1:detect_leaks=1 \
  RUSTFLAGS=-Zsanitizer=address CARGO_TARGET_DIR=$(ASAN_DIR)
test-asan: fixtures
	$(ASAN_ENV) $(CARGO) +nightly test --release --target x86_64-unknown-linux-gnu -p extism-capi
	$(ASAN_ENV) $(CARGO) +nightly build --release --target x86_64-unknown-linux-gnu -p extism-capi
	ln -sf libextism.so $(ASAN_LIB)/libextism.so.0
	$(ASAN_ENV) EXTISM_CFLAGS="-fsanitize=address -fno-omit-frame-pointer" EXTISM_LIB_DIR=$(ASAN_LIB) tests/c/run.sh

# A short, bounded run of each fuzz target (longer runs: SECURITY.md), after
# replaying the inputs that once failed; the kept seeds (fuzz/seeds: every
# edge the 30-minute runs reached) are run first as part of the corpus.
FUZZ_SECONDS ?= 20
FUZZ_TARGETS := manifest plugin_new kernel kernel_model manifest_forms host_boundary
FUZZ_TARGET_DIR ?= $(CURDIR)/fuzz/target
FUZZ_BIN := $(FUZZ_TARGET_DIR)/x86_64-unknown-linux-gnu/release
fuzz:
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	cd fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz build -s none --target-dir $(FUZZ_TARGET_DIR)
	set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/corpus/$$t fuzz/regressions/$$t fuzz/artifacts/$$t; \
	  for f in fuzz/regressions/$$t/*; do \
	    if [ -f "$$f" ]; then $(FUZZ_BIN)/$$t "$$f"; fi; \
	  done; \
	  $(FUZZ_BIN)/$$t -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -rss_limit_mb=4096 \
	    -artifact_prefix=fuzz/artifacts/$$t/ fuzz/corpus/$$t fuzz/seeds/$$t fuzz/regressions/$$t; \
	done

# Regenerate include/extism.h from capi/src (the header test checks it).
header:
	UPDATE_HEADER=1 $(CARGO) test --release -p extism-capi --test header

# The main job: the bundled example plugin run through the command line, the
# C API, Python and Node; each prints the same result.
VENV ?= $(CURDIR)/.venv
demo: build
	@echo "== extism (command line)"
	$(RELEASE)/extism call examples/count_vowels.wat count_vowels --input "Hello, World!"
	@echo
	cc -std=c11 -Wall -Werror -o $(RELEASE)/count_vowels examples/count_vowels.c \
	  -Iinclude -L$(RELEASE) -lextism -Wl,-rpath,$(RELEASE)
	@echo "== C"
	$(RELEASE)/count_vowels examples/count_vowels.wat "Hello, World!"
	test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	CARGO_TARGET_DIR=$(TARGET_DIR) $(VENV)/bin/python -m pip install -q --disable-pip-version-check ./bindings/python
	@echo "== Python"
	$(VENV)/bin/python examples/count_vowels.py examples/count_vowels.wat "Hello, World!"
	cd bindings/node && CARGO_TARGET_DIR=$(TARGET_DIR) npm install --no-audit --no-fund --loglevel=error
	@echo "== Node"
	node examples/count_vowels.mjs examples/count_vowels.wat "Hello, World!"

# rustfmt, clippy, and the core's API docs (every public item documented:
# `#![deny(missing_docs)]`; rustdoc warnings are errors).
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --release --no-deps -p extism-core

clean:
	$(CARGO) clean
