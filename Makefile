# DB-Forge — developer and operator workflow.
#   make run     build and run the gateway on :8000 (embedded local backend)
#   make cli     build the command line, bin/forgectl (docs/CLI.md)
#   make test    every test, with the race detector
#   make check   gofmt, go vet, go mod tidy leaves no diff, then the tests
#   make fuzz-short  a short fuzz pass over every fuzz target (CI runs it)
#   make up      build binaries and images, start the stack (Traefik + gateway)
#   make down    stop the stack (data and workers stay)
#   make status  the stack and the database workers
#   make logs    follow the gateway's (and Traefik's) logs
#   make clean   remove the stack, every worker, the network and ALL DATA in db-data/
#   make bench   short benchmark suite (≤ 3 min): bench/results/<date>-<host>.{md,json,png}, from a clean tree only
#   make bench-full  every benchmark scenario, longer runs, 10,000 databases
#   make bench-faults  timeouts checked against the file, writes during a long read (~1.5 min)
#   make soak    memory under a mixed load on 300 databases, ~11 min (SOAK_DURATION=30m for longer): bench/results/<date>-<host>-soak.{md,json,png}
SHELL := /bin/bash
GO    ?= go
BIN   := bin
PKGS  := ./...

# Settings from .env (copied from .env.example) reach the gateway.
-include .env
export $(shell sed -n 's/^\(FORGE_[A-Z_]*\)=.*/\1/p' .env 2>/dev/null)

.PHONY: all build binaries images run test check fmt fmt-check vet tidy-check clean help up down status logs

all: build

help:
	@sed -n 's/^#   //p' Makefile

## build: static gateway binary in bin/ (CGO_ENABLED=0, runs on any Linux), and forgectl
build: cli
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o $(BIN)/forge-gateway ./cmd/forge-gateway

## cli: the command line, bin/forgectl (docs/CLI.md)
.PHONY: cli
cli:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o $(BIN)/forgectl ./cmd/forgectl

## binaries: both static binaries (gateway and worker)
binaries: build
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o $(BIN)/forge-worker ./cmd/forge-worker

# --- Docker: images and the stack -------------------------------------------
COMPOSE        ?= $(shell command -v docker-compose >/dev/null 2>&1 && echo docker-compose || echo docker compose)
WORKER_IMAGE   ?= db-worker-base:latest
GATEWAY_IMAGE  ?= db-forge-gateway:latest
TRAEFIK_IMAGE  ?= traefik:v3.1
# The gateway container runs as you (the owner of ./db-data), in the docker
# socket's group and in the workers' group.
STACK_ENV = COMPOSE_PROJECT_NAME=db-forge FORGE_UID=$$(id -u) FORGE_GID=$$(id -g) DOCKER_GID=$$(stat -c %g /var/run/docker.sock) \
            FORGE_HOST_DATA_DIR=$(CURDIR)/db-data TRAEFIK_IMAGE=$(TRAEFIK_IMAGE) GATEWAY_IMAGE=$(GATEWAY_IMAGE) WORKER_IMAGE=$(WORKER_IMAGE)

## images: build both binaries on the host and both FROM-scratch images (no registry needed)
images: binaries
	docker build -q -f deploy/worker/Dockerfile -t $(WORKER_IMAGE) . >/dev/null
	docker build -q -f deploy/gateway/Dockerfile -t $(GATEWAY_IMAGE) . >/dev/null
	@docker image ls --format '{{.Repository}}:{{.Tag}}  {{.Size}}' | grep -E '^($(WORKER_IMAGE)|$(GATEWAY_IMAGE))  '

## up: images, then the stack; without the Traefik image, the gateway alone on localhost:8000
up: images
	@mkdir -p db-data
	@if docker image inspect $(TRAEFIK_IMAGE) >/dev/null 2>&1; then \
	  $(STACK_ENV) $(COMPOSE) up -d && \
	  echo "DB-Forge is up: http://db.localhost (Traefik) and http://localhost:8000 (gateway)"; \
	else \
	  echo "NOTE: the Traefik image $(TRAEFIK_IMAGE) is not on this Docker engine and cannot be pulled here."; \
	  echo "NOTE: starting the gateway WITHOUT Traefik; it is published on http://localhost:8000 only."; \
	  $(STACK_ENV) $(COMPOSE) up -d --no-deps gateway && \
	  echo "DB-Forge gateway is up: http://localhost:8000 (no edge proxy)"; \
	fi
	@echo "Admin key: db-data/.forge/admin.key (made at the gateway's first start): export ADMIN_KEY=\$$(cat db-data/.forge/admin.key)"

down:
	$(STACK_ENV) $(COMPOSE) down

status:
	@$(STACK_ENV) $(COMPOSE) ps
	@echo; echo "Database workers:"
	@docker ps -a --filter label=db-worker=true --format 'table {{.Names}}\t{{.Status}}\t{{.ID}}'

logs:
	$(STACK_ENV) $(COMPOSE) logs -f --tail=100

## run: build, then serve on FORGE_LISTEN (default :8000) with data in FORGE_DATA_DIR (default ./db-data)
run: build
	FORGE_LOG=$${FORGE_LOG:-console} FORGE_BACKEND=$${FORGE_BACKEND:-local} ./$(BIN)/forge-gateway

## test: all tests with the race detector; fuzz seed corpora run as plain tests
test:
	$(GO) test -race -count=1 -timeout 15m $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

tidy-check:
	$(GO) mod tidy
	@git diff --exit-code -- go.mod go.sum || { echo "go mod tidy changed go.mod/go.sum: commit the result"; exit 1; }

## check: formatting, vet, tidy, then the tests
check: fmt-check vet tidy-check test

# --- Fuzzing (docs/SECURITY.md) ------------------------------------------------
# Every fuzz target, as package:Target:executions. `make test` runs their seed
# corpora; fuzz-short fuzzes each for its count of executions (about 10 s each
# on the 2-core development VM, 30 s for the SQL sandbox; FUZZSCALE multiplies
# them), and fails if a Fuzz function of a tracked test file is missing from
# the list. Budgets are counts, not durations: Go 1.26's fuzz coordinator can
# report a bare "context deadline exceeded" as a failure when a -fuzztime
# duration ends (golang/go#75804, fixed in Go 1.27); a count has no deadline.
FUZZSCALE    ?= 1
FUZZ_TARGETS := ./forge:FuzzValidateName:600000 \
	./sqlbuild:FuzzNormalizeType:200000 ./sqlbuild:FuzzIdentifiers:500000 \
	./gateway:FuzzParseJSON:140000 ./gateway:FuzzFoldKey:100000 ./gateway:FuzzDecodeQuery:100000 \
	./gateway:FuzzDecodeTable:100000 ./gateway:FuzzDecodeRows:90000 ./gateway:FuzzDecodeFilters:120000 \
	./gateway:FuzzParseQueryTimeout:150000 ./gateway:FuzzAppendString:100000 ./gateway:FuzzAppendFloat:200000 \
	./gateway:FuzzDecodeKeyRequest:100000 ./gateway:FuzzFastQueryAgrees:200000 ./gateway:FuzzDecodeBatch:100000 \
	./gateway:FuzzDecodeQueryOptions:100000 ./gateway:FuzzDecodeSelectArgs:120000 ./gateway:FuzzNegotiate:150000 \
	./gateway:FuzzDecodeTransaction:100000 ./gateway:FuzzBindList:100000 \
	./gateway:FuzzFastBatchAgrees:150000 ./gateway:FuzzDecodeLease:100000 \
	./snapshot:FuzzScript:30000 ./snapshot:FuzzCSV:60000 ./snapshot:FuzzValidateFile:200000 ./snapshot:FuzzAppendReal:200000 \
	./tables:FuzzParseQuery:150000 ./tables:FuzzDecodeToken:150000 \
	./wasm:FuzzSandboxSQL:3000 ./wasm:FuzzReadOnlySQL:80000 ./wasm:FuzzRenamedTo:100000 ./idem:FuzzCompact:100000 \
	./auth:FuzzCredential:180000 ./diff:FuzzDiffQuery:150000 \
	./backup:FuzzDecodeManifest:100000 \
	./agentmcp:FuzzRisky:50000 ./agentmcp:FuzzCheckOrigin:150000 \
	./audit:FuzzParseQuery:60000 ./audit:FuzzDecodeRecords:70000 \
	./functions:FuzzDecodeParams:150000 ./functions:FuzzHostBoundary:20000 ./gateway:FuzzDecodeSQLFunction:100000 ./functions/guest:FuzzJSON:100000
.PHONY: fuzz-short

## fuzz-short: a short fuzz pass over every fuzz target (a few minutes; CI runs it)
fuzz-short:
	@for fn in $$(git ls-files '*_test.go' | xargs grep -hoE '^func Fuzz[A-Za-z0-9_]+' | sed 's/^func //'); do \
	  case " $(FUZZ_TARGETS) " in *":$$fn:"*) ;; *) echo "fuzz target $$fn is not in FUZZ_TARGETS (Makefile)"; exit 1;; esac; \
	done
	@set -e; for t in $(FUZZ_TARGETS); do \
	  IFS=: read -r pkg fn n <<< "$$t"; n=$$(( n * $(FUZZSCALE) )); \
	  echo "fuzz $$pkg $$fn for $$n executions"; \
	  $(GO) test -run=NONE -fuzz="^$$fn\$$" -fuzztime=$${n}x $$pkg; \
	done

# --- Benchmarks (bench/, docs/PERFORMANCE.md) --------------------------------
.PHONY: bench bench-full bench-bin bench-faults soak

## bench-bin: the load generator and the three ceiling programs, in bin/
bench-bin:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ ./bench/cmd/...

# Results go into bench/results/ only from a clean tree (git status --porcelain
# empty): from a dirty one forge-bench writes them to a temporary directory and
# says where. BENCH_FLAGS=-allow-dirty writes them here anyway, marked dirty.
BENCH_FLAGS ?=

## bench: the gateway against its ceilings, short suite (≤ 3 min); results in bench/results/
bench: build bench-bin
	./$(BIN)/forge-bench -suite short -bin $(BIN) -out bench/results $(BENCH_FLAGS)

## bench-faults: the fault scenarios alone (issue 10): is every 504 true, does a write wait for a long read
bench-faults: build bench-bin
	./$(BIN)/forge-bench -suite short -only truth,longread -bin $(BIN) -out bench/results $(BENCH_FLAGS)

## bench-full: every scenario, 10 s runs, 1,000 and 10,000 databases; results in bench/results/*-full.*
bench-full: build bench-bin
	@if docker info >/dev/null 2>&1; then $(MAKE) --no-print-directory images; \
	else echo "bench-full: no Docker engine: the docker spawn cycle will be reported as not measured"; fi
	./$(BIN)/forge-bench -suite full -bin $(BIN) -out bench/results $(BENCH_FLAGS)

## soak: 64 clients, mixed SQL on 300 databases for SOAK_DURATION while the gateway's RSS,
## wasm and Go memory are sampled every 10 s (docs/OPERATIONS.md#memory); SOAK_FLAGS adds
## forge-bench flags, e.g. SOAK_FLAGS="-dbs 500 -env FORGE_READERS_PER_DB=1 -label r1"
SOAK_DURATION ?= 10m
SOAK_FLAGS    ?=
soak: build bench-bin
	./$(BIN)/forge-bench -suite soak -duration $(SOAK_DURATION) -bin $(BIN) -out bench/results $(BENCH_FLAGS) $(SOAK_FLAGS)

## clean: DESTRUCTIVE — the stack, every worker container, the network, and ALL DATA in db-data/
clean:
	@echo "WARNING: make clean deletes ALL DATABASES in $(CURDIR)/db-data, every db-worker container and the stack."
	-@$(STACK_ENV) $(COMPOSE) down --remove-orphans 2>/dev/null
	-@ids=$$(docker ps -aq --filter label=db-worker=true 2>/dev/null); [ -z "$$ids" ] || docker rm -f $$ids >/dev/null
	-@docker network rm db-forge-net >/dev/null 2>&1 || true
	rm -rf db-data $(BIN)
	@echo "clean: stack, workers, network and data removed."
