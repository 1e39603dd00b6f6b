# Developer and CI entry points. `make test` is what CI runs (.ci/run).

GO ?= go

.PHONY: build deps test vet fmt-check fuzz demo

build:
	$(GO) build -o bin/s3seal ./cmd/s3seal

deps:
	scripts/install-deps.sh

test: deps vet fmt-check
	$(GO) test -race -count=1 ./...
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
