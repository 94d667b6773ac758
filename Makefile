# commentd: `make run` starts the service with Redis and devmongo on local
# defaults; `make test` runs the whole suite. Both install what they need.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin

.PHONY: run test build devmongo deps bench fuzz clean

run:
	scripts/run.sh

test:
	scripts/test.sh

build:
	mkdir -p bin
	CGO_ENABLED=0 go build -o bin/commentd ./cmd/commentd

deps devmongo:
	scripts/deps.sh

# Benchmarks of the write-behind core against real Redis and devmongo.
bench: deps
	go test -run '^$$' -bench . -benchtime 2s -count 3 ./buffer/ ./store/

# Fuzz the parsers for a while each.
fuzz:
	go test -run '^$$' -fuzz FuzzValidateContent -fuzztime 30s ./comment/

clean:
	scripts/services.sh stop || true
	rm -rf bin .run
