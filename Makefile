# res_cluster -- build, test and install the Asterisk module.
#
#   make            build res_cluster.so against the Asterisk headers found
#   make demo       three nodes on loopback, real calls through ClusterDial
#   make test       unit and integration tests (installs what they need)
#   make asterisk   build the Asterisk sandbox (Debian unstable root, once)

CARGO      ?= cargo
SANDBOX_SH := scripts/sandbox.sh
FAULT_DIR  := build/fault-injection

# Runs $(1), then unmounts what the tests mounted in the sandbox, pass or fail.
in_sandbox = status=0; $(1) || status=$$?; $(SANDBOX_SH) --umount; exit $$status

.PHONY: all module deps asterisk test unit-test integration-test demo bench clean fault-module \
	install samples uninstall deb diagram soak fuzz fuzz-check checked-module unit-memcheck check-headers

all: module

# cargo decides what is stale; the copy names the file as Asterisk loads it.
module:
	$(CARGO) build --release
	cp target/release/libres_cluster.so res_cluster.so
	@cat "$$(ls -t target/release/build/res_cluster-*/out/asterisk-headers.txt | head -n 1)"
	@echo "built res_cluster.so"

# The same module with a panic trigger, for the test that proves panics
# never cross into Asterisk. res_cluster.so, copied by `module` first, stays
# the release build.
fault-module: module
	$(CARGO) build --release --features fault-injection
	mkdir -p $(FAULT_DIR)
	cp target/release/libres_cluster.so $(FAULT_DIR)/res_cluster.so

deps:
	scripts/deps.sh

asterisk: deps
	$(SANDBOX_SH) --with lintian valgrind

# Directories: MODULES_DIR, DOC_XML_DIR, ASTETCDIR, DOCDIR, PREFIX (see
# scripts/install.sh for how each is found); DESTDIR is honoured.
install: module
	scripts/install.sh install

samples:
	scripts/install.sh samples

uninstall:
	scripts/install.sh uninstall

# The package's own tests (tests/install.rs) install it in the sandbox and
# run lintian there.
deb: module
	scripts/deb.sh

unit-test:
	$(CARGO) test -p res_cluster_core

# The same unit tests under valgrind's memcheck.
unit-memcheck:
	scripts/unit-memcheck.sh

# The same module with debug assertions and overflow checks on: the
# integration suite runs against it too.
checked-module:
	$(CARGO) build --profile checked
	mkdir -p build/checked
	cp target/checked/libres_cluster.so build/checked/res_cluster.so

# The whole integration suite, against the release module and then the
# checked one. The sandbox's /proc and /dev are unmounted afterwards.
integration-test:
	$(call in_sandbox,$(CARGO) test --release --test '*' -- $(TEST_ARGS) && \
		echo "== again with debug assertions and overflow checks in the module ==" && \
		RES_CLUSTER_MODULE=$(CURDIR)/build/checked/res_cluster.so $(CARGO) test --release --test '*' -- $(TEST_ARGS))

test: asterisk module fault-module checked-module deb unit-test fuzz-check unit-memcheck integration-test
	@true

# The fuzz targets compile against the core as it is now (running them is
# `make fuzz`).
fuzz-check:
	$(CARGO) check --manifest-path fuzz/Cargo.toml --bins

# The module compiled against the headers of Asterisk 20.0.0 to master
# (scripts/check-headers.sh; ASTERISK_GIT names a clone to read them from).
check-headers: asterisk
	scripts/check-headers.sh $(REFS)

# libFuzzer on the argument parser and the configuration reader.
FUZZ_SECONDS ?= 300
fuzz:
	scripts/fuzz.sh $(FUZZ_SECONDS)

demo: asterisk module
	$(call in_sandbox,$(CARGO) run --release --example demo)

clean:
	$(CARGO) clean
	rm -rf build res_cluster.so

# The recipe and ClusterDial alternately, twice each, 20,000 mixed calls at
# 100/s through two nodes per run (about fifteen minutes).
soak: asterisk module
	$(call in_sandbox,$(CARGO) run --release --example soak)

bench: asterisk module
	$(call in_sandbox,$(CARGO) run --release --example bench)

# The README's call-flow diagram, from its Graphviz source.
diagram: doc/call-flow.svg

doc/call-flow.svg: doc/call-flow.dot
	scripts/deps.sh graphviz
	dot -Tsvg $< -o $@
