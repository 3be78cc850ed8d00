# ZPAM — `make help` lists the targets.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# Recursive (=), so that packages' own VERSION reaches the build it runs.
LDFLAGS = -s -w -X main.version=$(VERSION)
GOFLAGS_BUILD = -trimpath -ldflags '$(LDFLAGS)'
BIN := bin
# Package version (packaging/version.sh turns git describe into a form dpkg
# and rpm both order); the packaged binaries report it as --version too.
PKG_VERSION ?= $(shell packaging/version.sh 2>/dev/null || echo 0.0.0~dev)
# Man pages and completions generated from the built binaries' commands.
DOCS = $(BIN)/docs
# Generated man pages carry the commit's date, not the build's.
export SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null)
TOOLBIN := $(CURDIR)/.bin
BINARIES := pam-agent pamctl pam-controlplane
PROTOS := $(wildcard proto/zpam/*/v1/*.proto)

# Debian packages the build and the tests need; `make deps` installs the
# missing ones (apt-get update once, then apt-get install -y).
APT_PACKAGES := clang llvm libbpf-dev bpftool protobuf-compiler libprotobuf-dev \
	sudo passwd util-linux procps curl git make ca-certificates \
	qemu-system-x86 busybox-static cpio gzip \
	systemd rpm lintian debootstrap chromium postgresql systemd-container man-db bash-completion zsh fish

.PHONY: help deps build docs generate generate-proto generate-bpf verify-generate lint test test-unit bench packages run clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

deps: ## install missing Debian packages (as root)
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		if [ "$$(id -u)" != 0 ]; then echo "make deps: missing packages ($$missing) and not root; run: sudo make deps" >&2; exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

build: ## build the three static binaries into bin/
	@mkdir -p $(BIN)
	CGO_ENABLED=0 go build $(GOFLAGS_BUILD) -o $(BIN)/ ./agent/cmd/pam-agent ./agent/cmd/pamctl ./controlplane/cmd/pam-controlplane

docs: build ## man pages and bash/zsh/fish completions of the binaries, generated from their commands, into $(BIN)/docs
	@for b in $(BINARIES); do rm -rf $(DOCS)/$$b && $(BIN)/$$b gendocs $(DOCS)/$$b || exit 1; done

generate: generate-proto generate-bpf ## regenerate protobuf and bpf2go output

$(TOOLBIN)/protoc-gen-go $(TOOLBIN)/protoc-gen-go-grpc: go.mod
	@mkdir -p $(TOOLBIN)
	go build -o $(TOOLBIN)/ google.golang.org/protobuf/cmd/protoc-gen-go google.golang.org/grpc/cmd/protoc-gen-go-grpc

generate-proto: $(TOOLBIN)/protoc-gen-go $(TOOLBIN)/protoc-gen-go-grpc
	PATH=$(TOOLBIN):$$PATH protoc -I proto -I /usr/include \
		--go_out=. --go_opt=module=github.com/zpam/zpam \
		--go-grpc_out=. --go-grpc_opt=module=github.com/zpam/zpam $(PROTOS)

generate-bpf:
	go generate ./agent/internal/kernel/

verify-generate: generate ## fail when committed generated code differs from a fresh generate
	@if ! git diff --quiet -- proto agent/internal/kernel || [ -n "$$(git ls-files --others --exclude-standard -- proto agent/internal/kernel)" ]; then \
		git status --short -- proto agent/internal/kernel; \
		echo "generated code is stale: run make generate and commit the result" >&2; exit 1; fi
	@echo "generated code is up to date"

lint: ## go vet and staticcheck
	go vet ./...
	go vet -tags vmlabguest ./agent/internal/kernel/
	go tool staticcheck ./...
	go tool staticcheck -tags vmlabguest ./agent/internal/kernel/

test-unit: ## unit tests only (no root, no kernel)
	go test -count=1 -short ./...

test: deps verify-generate lint ## everything CI runs: generated-code check, lint, unit, root and end-to-end tests
	go test -count=1 -timeout 30m ./...

bench: build ## benchmarks (figures and method in BENCHMARKS.md)
	@if [ "$$(id -u)" != 0 ]; then echo "make bench: the exec benchmark attaches kernel programs and needs root; run: sudo make bench" >&2; exit 1; fi
	go run ./tests/bench/execbench --bin $(BIN) $(BENCHFLAGS)
	go run ./tests/bench/telbench --bin $(BIN) $(TELBENCHFLAGS)
	go run ./tests/bench/elevatebench --bin $(BIN) $(ELEVATEBENCHFLAGS)
	go test ./controlplane/internal/telemetry/ -run '^$$' -bench Ingest -benchtime 400x -cpu 2
	go test ./controlplane/internal/server/ -run '^$$' -bench Upload -benchtime 400x -cpu 2
	go run ./tests/bench/vmbench $(VMBENCHFLAGS)
	go test -count=1 ./tests/bench/replicas -run '^$$' -bench . -benchtime 1x -args -bin $(CURDIR)/$(BIN) $(HABENCHFLAGS)
	go test -count=1 -timeout 60m ./tests/bench/fleetbench -run '^$$' -bench . -benchtime 1x -args -bin $(CURDIR)/$(BIN) $(FLEETBENCHFLAGS)

packages: VERSION = $(PKG_VERSION)
packages: docs ## .deb and .rpm of pam-agent and pam-controlplane into dist/ (or DIST=dir; PKG_VERSION=1.2.3 overrides the version)
	@mkdir -p $(or $(DIST),dist)
	@arch=$$(go env GOARCH) && \
	for pkg in pam-agent pam-controlplane; do for fmt in deb rpm; do \
		ZPAM_BIN=$(BIN) ZPAM_DOCS=$(DOCS) ZPAM_VERSION=$(PKG_VERSION) ZPAM_ARCH=$$arch \
		go tool nfpm package --config packaging/nfpm/$$pkg.yaml --packager $$fmt --target $(or $(DIST),dist)/ || exit 1; \
	done; done

run: deps build ## start a local control plane (SQLite) and an enforcing agent on this host
	@bash tests/dev/run.sh $(BIN)

clean: ## remove build outputs
	rm -rf $(BIN) $(TOOLBIN) dist
