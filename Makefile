# Developer and CI entry points. `make test` is what CI runs (.ci/run).
#
#   make deps         install libzmq (needs root; prints the command otherwise)
#   make test         gofmt, zero-cgo build, vet, race tests, conformance, fuzz smoke
#   make conformance  only the libzmq interop suite, verbose
#   make fuzz-smoke   every fuzz target for FUZZTIME (default 10s)
#   make fuzz         every fuzz target for FUZZTIME (default 5m)
#   make bench        benchmarks of the root module and of bench/
#   make demo         scripts/demo.sh

GO ?= go
export GO

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := test

# Packages `make deps` installs (Debian): libzmq for the cgo modules
# conformance/ and bench/, pkg-config for cgo to find it.
DEPS_PACKAGES := libzmq3-dev pkg-config

# step prints a header before each step of a recipe.
step = @printf '\n=== %s\n' '$(1)'

.PHONY: test deps conformance fuzz-smoke fuzz bench demo

deps:
	@if pkg-config --exists libzmq 2>/dev/null && command -v "$$($(GO) env CC)" >/dev/null; then \
		echo "deps: libzmq $$(pkg-config --modversion libzmq) and a C compiler ($$($(GO) env CC)) are installed"; \
		exit 0; \
	fi; \
	pkgs="$(DEPS_PACKAGES)"; \
	if ! command -v "$$($(GO) env CC)" >/dev/null; then pkgs="$$pkgs gcc"; fi; \
	if [ "$$(id -u)" -eq 0 ]; then \
		echo "deps: installing $$pkgs"; \
		apt-get update; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y $$pkgs; \
		pkg-config --exists libzmq; \
	else \
		echo "deps: libzmq (pkg-config libzmq) or a C compiler is missing; as root, run:" >&2; \
		echo "  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$pkgs" >&2; \
		exit 1; \
	fi

test: deps
	$(call step,gofmt -l (root module and sub-modules; testdata excluded))
	@bad=$$(find . -name '*.go' -not -path './.git/*' -not -path '*/testdata/*' -print0 | xargs -0 gofmt -l); \
	if [ -n "$$bad" ]; then echo "gofmt: these files need gofmt -w:"; echo "$$bad"; exit 1; fi; \
	echo ok
	$(call step,CGO_ENABLED=0 $(GO) build ./... (the root module is zero-cgo))
	CGO_ENABLED=0 $(GO) build ./...
	$(call step,$(GO) vet ./...)
	$(GO) vet ./...
	$(call step,$(GO) test -race -count=1 ./... (root module))
	$(GO) test -race -count=1 ./...
	$(call step,load: 10000 concurrent CURVE handshakes to one listener (no -race: it would take minutes))
	ZMTPSEC_LOAD_REQUIRED=1 $(GO) test -count=1 -run '^TestLoadCURVE$$' -v ./hostile/ 2>&1 | grep -E '^(=== RUN|--- |ok|FAIL|PASS)|load_test.go'
	$(call step,conformance: $(GO) vet and $(GO) test -race against libzmq)
	cd conformance && $(GO) vet ./... && $(GO) test -race -count=1 ./...
	$(call step,fuzz smoke)
	$(MAKE) --no-print-directory fuzz-smoke

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

demo:
	./scripts/demo.sh
