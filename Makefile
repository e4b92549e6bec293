# Developer and CI entry points. `make test` is what CI runs (.ci/run).
#
#   make deps         install libzmq and MIT Kerberos's KDC and tools (needs
#                     root; prints the commands otherwise; instant when
#                     they are there)
#   make test         gofmt, go mod tidy, staticcheck, zero-cgo build, vet,
#                     vet at the declared minimum Go, race tests in random
#                     order, load test, the gssapi module (zero-cgo build,
#                     vet, race tests), bench/ build and setup tests,
#                     conformance, fuzz smoke
#   make lint         only the static checks: gofmt, go mod tidy, staticcheck
#   make min-go       only vet at the minimum Go that go.mod declares (the
#                     root module and gssapi/)
#   make gssapi       only the gssapi module's build, vet and race tests
#   make conformance  only the libzmq interop suite, verbose
#   make fuzz-smoke   every fuzz target (root and gssapi modules) for
#                     FUZZTIME (default 10s; 33 targets, about 7 minutes)
#   make fuzz         every fuzz target for FUZZTIME (default 5m)
#   make bench        benchmarks of the root module and of bench/ (in-process,
#                     libzmq through the cgo binding), and a build of the
#                     native libzmq perf peer bench/perf/zmqperf.c
#   make bench-native zmtpsec against native libzmq in two processes
#                     (bench/run-native.sh; NATIVE_FLAGS=-quick for a smoke
#                     run, NATIVE_FLAGS='-reps 9 -layer conn' and so on)
#   make demo         scripts/demo.sh

GO ?= go
export GO

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := test

# Packages `make deps` installs (Debian): libzmq for the cgo modules
# conformance/ and bench/, pkg-config for cgo to find it.
DEPS_PACKAGES := libzmq3-dev pkg-config

# KRB5_PACKAGES are MIT Kerberos's KDC (krb5-kdc: krb5kdc, kdb5_util), its
# admin tools (krb5-admin-server: kadmin.local) and its client tools
# (krb5-user: kinit, kvno, klist), for the throwaway realm of the GSSAPI
# tests (internal/krbtest, docs/gssapi-realm.md). They are installed
# without their recommendations. KRB5_TOOLS are the commands whose presence
# says they are installed; Debian puts the server ones in /usr/sbin, which
# a user's PATH may lack. libzmq's GSSAPI support (libgssapi-krb5-2) comes
# with libzmq itself.
KRB5_PACKAGES := krb5-kdc krb5-admin-server krb5-user
KRB5_TOOLS := krb5kdc kdb5_util kadmin.local kinit kvno klist

# step prints a header before each step of a recipe.
step = @printf '\n=== %s\n' '$(1)'

# MODULES are the modules of this repository: the root module (the library),
# the GSSAPI mechanism (gssapi/, a nested module so that gokrb5 stays out of
# the root module; docs/design.md#module-and-layers) and the cgo modules that
# test and measure them against libzmq. Each has its own go.mod and reaches
# the root module through a replace directive (no go.work).
MODULES := . gssapi conformance bench

# PURE_MODULES are the modules that must build without cgo and are vetted at
# their declared minimum Go.
PURE_MODULES := . gssapi

# STATICCHECK is run through `go run` at a pinned version, so that a fresh
# machine needs nothing installed by hand and every run checks the same
# rules. Raise the version on purpose, never to @latest.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

# MIN_GO is the minimum Go release the root module declares (the go line of
# go.mod); min-go vets the module with that toolchain, which the go command
# downloads through the module proxy (GOTOOLCHAIN), so that a newer language
# or library feature cannot slip in while go.mod claims an older release.
MIN_GO = $(shell $(GO) list -m -f '{{.GoVersion}}')

.PHONY: test deps lint tidy staticcheck min-go gssapi conformance fuzz-smoke fuzz bench bench-native demo

deps:
	@have() { command -v "$$1" >/dev/null || [ -x "/usr/sbin/$$1" ] || [ -x "/sbin/$$1" ]; }; \
	zmq=""; krb=""; \
	if ! pkg-config --exists libzmq 2>/dev/null; then zmq="$(DEPS_PACKAGES)"; fi; \
	if ! command -v "$$($(GO) env CC)" >/dev/null; then zmq="$(DEPS_PACKAGES) gcc"; fi; \
	for t in $(KRB5_TOOLS); do have "$$t" || krb="$(KRB5_PACKAGES)"; done; \
	if [ -z "$$zmq$$krb" ]; then \
		echo "deps: libzmq $$(pkg-config --modversion libzmq), a C compiler ($$($(GO) env CC)) and MIT Kerberos's tools ($(KRB5_TOOLS)) are installed"; \
		exit 0; \
	fi; \
	if [ "$$(id -u)" -ne 0 ]; then \
		echo "deps: missing: $$(echo $$zmq $$krb); as root, run:" >&2; \
		echo "  apt-get update" >&2; \
		if [ -n "$$zmq" ]; then echo "  DEBIAN_FRONTEND=noninteractive apt-get install -y $$zmq" >&2; fi; \
		if [ -n "$$krb" ]; then echo "  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$krb" >&2; fi; \
		exit 1; \
	fi; \
	apt-get update; \
	if [ -n "$$zmq" ]; then \
		echo "deps: installing $$zmq"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y $$zmq; \
		pkg-config --exists libzmq; \
	fi; \
	if [ -n "$$krb" ]; then \
		echo "deps: installing $$krb (without recommendations)"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$krb; \
		for t in $(KRB5_TOOLS); do have "$$t" || { echo "deps: $$t still missing after the install" >&2; exit 1; }; done; \
	fi

test: deps
	$(MAKE) --no-print-directory lint
	$(call step,CGO_ENABLED=0 $(GO) build ./... (the root module is zero-cgo))
	CGO_ENABLED=0 $(GO) build ./...
	$(call step,$(GO) vet ./...)
	$(GO) vet ./...
	$(MAKE) --no-print-directory min-go
	$(call step,$(GO) test -race -shuffle=on -count=1 ./... (root module, tests in random order))
	$(GO) test -race -shuffle=on -count=1 ./...
	$(call step,load: 10000 concurrent CURVE handshakes to one listener (no -race: it would take minutes))
	ZMTPSEC_LOAD_REQUIRED=1 $(GO) test -count=1 -run '^TestLoadCURVE$$' -v ./hostile/ 2>&1 | grep -E '^(=== RUN|--- |ok|FAIL|PASS)|load_test.go'
	$(MAKE) --no-print-directory gssapi
	$(call step,bench: $(GO) build and $(GO) vet; the setup tests (each perf peer exchanges real messages, nothing timed); compile the benchmarks and run none)
	cd bench && $(GO) build ./... && $(GO) vet ./... && $(GO) test -count=1 ./...
	$(call step,conformance: $(GO) vet and $(GO) test -race -shuffle=on against libzmq)
	cd conformance && $(GO) vet ./... && $(GO) test -race -shuffle=on -count=1 ./...
	$(call step,fuzz smoke)
	$(MAKE) --no-print-directory fuzz-smoke

# lint runs the static checks alone. staticcheck type-checks conformance/
# and bench/, which are cgo: it needs libzmq's headers, hence deps.
lint: deps
	$(call step,gofmt -l (root module and sub-modules; testdata excluded))
	@bad=$$(find . -name '*.go' -not -path './.git/*' -not -path '*/testdata/*' -print0 | xargs -0 gofmt -l); \
	if [ -n "$$bad" ]; then echo "gofmt: these files need gofmt -w:"; echo "$$bad"; exit 1; fi; \
	echo ok
	$(MAKE) --no-print-directory tidy staticcheck

tidy:
	$(call step,$(GO) mod tidy -diff in $(MODULES) (go.mod and go.sum are tidy))
	@for m in $(MODULES); do \
		echo "$$m"; \
		(cd "$$m" && $(GO) mod tidy -diff) || { echo "tidy: run (cd $$m && $(GO) mod tidy) and commit the result" >&2; exit 1; }; \
	done

staticcheck:
	$(call step,staticcheck ($(STATICCHECK)) in $(MODULES))
	@status=0; for m in $(MODULES); do \
		echo "$$m"; \
		(cd "$$m" && $(GO) run $(STATICCHECK) ./...) || status=1; \
	done; exit $$status

min-go:
	$(call step,$(GO) vet ./... with the minimum Go that each go.mod declares (root: $(MIN_GO)) through GOTOOLCHAIN in $(PURE_MODULES))
	@for m in $(PURE_MODULES); do \
		v=$$(cd "$$m" && $(GO) list -m -f '{{.GoVersion}}'); case $$v in *.*.*) ;; *) v=$$v.0 ;; esac; \
		echo "$$m: GOTOOLCHAIN=go$$v $(GO) vet ./..."; \
		(cd "$$m" && GOTOOLCHAIN=go$$v $(GO) vet ./...); \
	done

# gssapi checks the nested GSSAPI module: it builds without cgo, vets, and
# its tests pass with -race in random order. Its KDC tests run a throwaway
# MIT realm (internal/krbtest): they skip without MIT's tools, and fail
# without them when CI=true, which is why this target needs deps.
gssapi: deps
	$(call step,gssapi: CGO_ENABLED=0 $(GO) build ./... and $(GO) vet ./...)
	cd gssapi && CGO_ENABLED=0 $(GO) build ./... && $(GO) vet ./...
	$(call step,gssapi: $(GO) test -race -shuffle=on -count=1 ./... (KDC tests in a throwaway MIT realm))
	cd gssapi && $(GO) test -race -shuffle=on -count=1 ./...

conformance: deps
	$(call step,conformance: $(GO) test -race -count=1 -v against libzmq)
	cd conformance && $(GO) test -race -count=1 -v ./...

fuzz-smoke: FUZZTIME ?= 10s
fuzz-smoke:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz-smoke.sh

fuzz: FUZZTIME ?= 5m
fuzz:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz-smoke.sh

bench:
	$(call step,benchmarks: root module)
	$(GO) test -run='^$$' -bench=. -benchmem ./...
	@if [ -n "$$(find bench -name '*_test.go' -not -path '*/testdata/*' | head -1)" ]; then \
		$(MAKE) --no-print-directory deps; \
		printf '\n=== %s\n' 'benchmarks: bench/ (zmtpsec against libzmq)'; \
		cd bench && $(GO) test -run='^$$' -bench=. -benchmem ./...; \
	else \
		echo "bench: bench/ has no test files yet; skipped"; \
	fi
	$(call step,bench: build the native libzmq perf peer (bench/perf/build.sh into bench/build))
	./bench/perf/build.sh

# bench-native runs zmtpsec's perf tool against the C one on native libzmq,
# two processes per measurement, and saves bench/results/DATE-native.txt.
bench-native: NATIVE_FLAGS ?=
bench-native: deps
	$(call step,bench-native: bench/run-native.sh $(NATIVE_FLAGS))
	./bench/run-native.sh $(NATIVE_FLAGS)

demo:
	./scripts/demo.sh
