# Developer and CI entry points. `make test` is what CI runs (.ci/run).

GO ?= go
SHELL := /bin/bash

.PHONY: build deps test vet fmt-check fuzz demo bench bench-history bench-scale interop

build:
	$(GO) build -o bin/s3seal ./cmd/s3seal

deps:
	scripts/install-deps.sh

# -v shows each test by name (the S3 ones say which gateway they talk to);
# the RUN/PAUSE/CONT lines are dropped to keep the log readable.
test: deps vet fmt-check
	set -o pipefail; $(GO) test -race -count=1 -v ./... 2>&1 | grep -v -E '^=== (RUN|PAUSE|CONT|NAME)'
	scripts/fuzz.sh

vet:
	$(GO) vet ./...

# gofmt check: fails and lists the files that are not gofmt-formatted.
fmt-check:
	@unformatted="$$(gofmt -l .)"; \
	if [ -n "$$unformatted" ]; then \
		echo "gofmt needed on:"; echo "$$unformatted"; exit 1; \
	fi

fuzz:
	scripts/fuzz.sh

demo: build
	scripts/demo.sh

# The end-to-end round trip against other S3 servers on 127.0.0.1: MinIO,
# SeaweedFS and the Versity gateway (scripts/interop/run.sh; SERVERS="minio"
# picks some). Builds the servers from the Go module proxy when missing,
# which takes long; not part of `make test`. See docs/COMPATIBILITY.md.
interop:
	scripts/interop/run.sh $(SERVERS)

# s3seal next to aws s3 sync, rclone crypt and restic on generated workloads,
# against a local gateway, on loopback and through a WAN-emulating proxy
# (scripts/bench/run.sh; installs the peers with apt-get), uploads and
# restores; first, the rate --bwlimit holds, measured over a minute. Not part
# of `make test`: it takes 20-30 minutes.
bench: bench-history
	$(GO) test -run '^$$' -bench SyncBandwidthLimit -benchtime 1x ./cmd/s3seal
	scripts/bench/run.sh

# What history costs a no-change sync: requests and time with a plain, a
# versioned and an Object Lock bucket (docs/PERFORMANCE.md, "History").
bench-history: deps
	PATH="$$PATH:$$($(GO) env GOPATH)/bin" $(GO) test -run '^$$' -bench BenchmarkHistoryNoChange -benchtime 5x ./cmd/s3seal

# The scaling runs alone: 200,000 and 2,000,000 small files, first upload and
# no-change run (s3seal only). Long: about 16 GiB of source and as much on
# the gateway, an hour or more.
bench-scale:
	S3SEAL_BENCH_ONLY=scale S3SEAL_BENCH_SCALE="200000 2000000" S3SEAL_BENCH_PEERS= scripts/bench/run.sh
