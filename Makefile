# slspipe — see README.md. `make demo` runs the main job, `make test` runs the tests;
# both install what they need first (scripts/setup.sh).

GO        ?= go
BIN       := bin/slspipe
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
PKGS      := ./...
TEST_FLAGS ?= -race -timeout 12m

.PHONY: all setup build test lint fmt bench bench-micro chaos demo image image-smoke deploy-check clean

all: build

setup:
	@./scripts/setup.sh

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/slspipe

test: setup lint
	$(GO) test $(TEST_FLAGS) $(PKGS)

lint:
	@unformatted="$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files --cached --others --exclude-standard '*.go')

BENCH_FLAGS ?=

# The benchmark table: the emulator and NATS in their own processes, baselines
# (raw decode, the official consumer library program, the JetStream publish
# limit) and slspipe scenarios measured in the same run (bench/README.md).
bench: setup build
	plugins/build.sh bin/wasm
	$(GO) run ./bench/cmd/slsbench -slspipe $(BIN) -modules bin/wasm -rounds 3 -out bin/bench.md $(BENCH_FLAGS)

# Go micro-benchmarks of every package.
bench-micro: setup
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

# The chaos suite on loopback: repeated SIGKILLs, a NATS outage, SLS
# throttling and 5xx, a split and a merge, a lost consumer-group replica;
# prints records produced, delivered, lost and duplicated per scenario. A
# short version runs with `make test`.
chaos: setup
	mkdir -p bin
	$(GO) test -count=1 -timeout 20m -run '^TestChaos$$' ./test/e2e -v -args -chaos.full -chaos.out $(CURDIR)/bin/chaos.md
	@cat bin/chaos.md

# The main job on embedded defaults: an SLS emulator fed with generated nginx
# logs, an embedded JetStream server, and pipeline.yaml.example between them,
# with live progress. Ctrl-C drains, commits and exits 0.
demo: setup build
	plugins/build.sh bin/wasm
	$(BIN) dev pipeline.yaml.example

# The container image (podman or buildah, installed by scripts/setup-containers.sh).
image:
	VERSION=$(VERSION) ./scripts/image.sh

# Builds the image and runs pipelines in it against the emulator on loopback.
image-smoke:
	VERSION=$(VERSION) ./scripts/image-smoke.sh

# Checks deploy/kubernetes without a cluster, including the pipeline it carries.
deploy-check: build
	./deploy/check.sh $(BIN)

clean:
	rm -rf bin
