# Swiper. `make run` and `make test` are all a fresh machine needs (with Go,
# make and git: README.md, "Two commands").
SHELL := /bin/bash
GO    ?= go
BIN   := bin
DEV   := $(or $(SWIPER_DEV_DIR),.dev)
# Every recipe that talks to PostgreSQL or Redis sources the URLs devenv chose.
WITH_ENV := source $(DEV)/env.sh &&
SEED_USERS ?= 5000

.PHONY: all build services run test stop seed proto bench cluster lint clean screenshots

all: build

# build: compile swiperd, swiperctl, swiperload and devenv (make cluster's
# supervisor) into bin/
build:
	$(GO) build -o $(BIN)/ ./cmd/swiperd ./cmd/swiperctl ./cmd/swiperload ./cmd/devenv

# services: find, or install and start, the PostgreSQL, Redis and etcd to
# use (etcd only where nodes form a cluster: make run and seed leave it out)
DEVENV_ETCD := --etcd
run seed: DEVENV_ETCD :=
services: build
	SWIPERCTL=$(BIN)/swiperctl cmd/devenv/devenv.sh up $(DEVENV_ETCD)

# run: one node on 127.0.0.1:8080 (admin on :9090), demo users seeded once;
# the private PostgreSQL and Redis, if it started them, keep running
run: services
	$(WITH_ENV) $(BIN)/swiperctl seed -users $(SEED_USERS) -if-empty
	@echo
	@echo "Open the app:         http://127.0.0.1:8080/   (log in as +9990000000000; the code is filled in for you)"
	@echo "Operators' dashboard: http://127.0.0.1:9090/admin/   (admin token: $${SWIPER_ADMIN_TOKEN:-$$(cmd/devenv/devenv.sh admin-token)})"
	@echo "From a terminal, in this directory:  bash docs/walkthrough.sh"
	@echo "  admin token as \$$SWIPER_ADMIN_TOKEN:     eval \"\$$(bin/swiperctl admin-token)\""
	@echo "  log in as demo user 1:                 eval \"\$$(bin/swiperctl login +9990000000000)\""
	@echo "  its WebSocket:                         bin/swiperctl listen"
	@echo
	$(WITH_ENV) SWIPER_ADMIN_TOKEN=$${SWIPER_ADMIN_TOKEN:-$$(cmd/devenv/devenv.sh admin-token)} \
	  exec $(BIN)/swiperd -config cluster-config/single.yaml

ifndef SWIPER_DEVENV_AROUND
# test: the suite below, under `devenv.sh around`: a C compiler for -race is
# installed if missing, and afterwards, pass or fail, the private PostgreSQL,
# Redis and etcd are stopped if this started them (not if make run had)
test: build
	@SWIPERCTL=$(BIN)/swiperctl GO=$(GO) cmd/devenv/devenv.sh around --etcd $(MAKE) --no-print-directory test
else
# test: vet, format check, the whole suite with the race detector (latency
# and memory figures are the benchmarks', not the tests')
test: services lint
	$(WITH_ENV) $(GO) test -race -count=1 -timeout 12m ./...
endif

# stop: stop make cluster's nodes, then the private PostgreSQL, Redis and etcd
# that `services` started, if any, and say which servers it left alone
stop:
	$(GO) build -o $(BIN)/ ./cmd/devenv
	$(BIN)/devenv stop -dev $(DEV) $(CLUSTER_NODES)
	SWIPERCTL=$(BIN)/swiperctl cmd/devenv/devenv.sh down

# seed: add SEED_USERS more users to the database
seed: services
	$(WITH_ENV) $(BIN)/swiperctl seed -users $(SEED_USERS)

# lint: go vet and gofmt
lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# screenshots: run the browser tests, keeping their screenshots in
# docs/screenshots (the README shows the deck and the dashboard)
screenshots: services
	$(WITH_ENV) SWIPER_SCREENSHOTS=$(CURDIR)/docs/screenshots $(GO) test -count=1 -run 'TestApp|TestDashboard' ./transport/web/

# bench: the Go benchmarks (figures go to BENCHMARKS.md)
bench: services
	$(WITH_ENV) $(GO) test -run '^$$' -bench . -benchmem ./...

# proto: regenerate actors/actorpb from its .proto files (protoc from Debian's protobuf-compiler)
# (installed with apt when missing) and protoc-gen-go, pinned to go.mod's
# google.golang.org/protobuf, from the module proxy.
PROTOC_GEN_GO_VERSION = $(shell go list -m -f '{{.Version}}' google.golang.org/protobuf)
proto:
	@command -v protoc >/dev/null || { echo "installing protobuf-compiler"; sudo -n true 2>/dev/null && SUDO=sudo; $$SUDO apt-get install -y protobuf-compiler; }
	GOBIN=$(CURDIR)/bin go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	cd actors/actorpb && PATH="$(CURDIR)/bin:$$PATH" protoc --go_out=. --go_opt=paths=source_relative *.proto

# cluster: three local nodes from cluster-config/node1..3.yaml on etcd, demo
# users seeded once, each node's log behind its name (and in $(DEV)/logs/);
# Ctrl-C stops the nodes, the services keep running (make stop stops all)
CLUSTER_NODES := cluster-config/node1.yaml cluster-config/node2.yaml cluster-config/node3.yaml
cluster: services
	$(WITH_ENV) $(BIN)/swiperctl seed -users $(SEED_USERS) -if-empty
	$(WITH_ENV) SWIPER_ADMIN_TOKEN=$${SWIPER_ADMIN_TOKEN:-$$(cmd/devenv/devenv.sh admin-token)} \
	  exec $(BIN)/devenv cluster -dev $(DEV) -swiperd $(BIN)/swiperd $(CLUSTER_NODES)

# clean: remove build output (not .dev/, which holds the private databases)
clean:
	rm -rf $(BIN)
