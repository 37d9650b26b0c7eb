# DB-Forge — developer and operator workflow.
#   make run     build and run the gateway on :8000 (embedded local backend)
#   make test    every test, with the race detector
#   make check   gofmt, go vet, go mod tidy leaves no diff, then the tests
SHELL := /bin/bash
GO    ?= go
BIN   := bin
PKGS  := ./...

# Settings from .env (copied from .env.example) reach the gateway.
-include .env
export $(shell sed -n 's/^\(FORGE_[A-Z_]*\)=.*/\1/p' .env 2>/dev/null)

.PHONY: all build run test check fmt fmt-check vet tidy-check clean help

all: build

help:
	@sed -n 's/^#   //p' Makefile

## build: static gateway binary in bin/ (CGO_ENABLED=0, runs on any Linux)
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o $(BIN)/forge-gateway ./cmd/forge-gateway

## run: build, then serve on FORGE_LISTEN (default :8000) with data in FORGE_DATA_DIR (default ./db-data)
run: build
	FORGE_LOG=$${FORGE_LOG:-console} ./$(BIN)/forge-gateway

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

clean:
	rm -rf $(BIN)
