# commentd: `make run` starts the service with Redis and devmongo on local
# defaults; `make test` runs the whole suite. Both install what they need.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin

.PHONY: run test build devmongo deps bench bench-go chaos fuzz clean

run:
	scripts/run.sh

test:
	scripts/test.sh

build:
	mkdir -p bin
	CGO_ENABLED=0 go build -o bin/commentd ./cmd/commentd

deps devmongo:
	scripts/deps.sh

# Benchmark suite (bench/run.sh): every commentbench scenario against
# commentd in write-behind and write-through mode; writes BENCHMARKS.md and
# bench/report/. BENCH_QUICK=1 for small sizes.
bench:
	bench/run.sh

# Go micro-benchmarks: append and flush against real Redis and devmongo,
# broadcast on real WebSocket connections.
bench-go: deps
	go test -run '^$$' -bench . -benchtime 2s -count 3 ./buffer/ ./store/ ./realtime/socketio/
	go test -run '^$$' -bench BenchmarkNodes -benchtime 10000x -count 3 ./cmd/commentd/

# The long chaos run (~30 min): faults under load, then the queue and register checkers.
# `make test` runs a 70 s version (TestChaosShort).
chaos:
	scripts/chaos.sh

# Fuzz the parsers for a while each.
fuzz:
	go test -run '^$$' -fuzz FuzzValidateContent -fuzztime 30s ./comment/
	go test -run '^$$' -fuzz FuzzAppendJSON -fuzztime 30s ./comment/
	go test -run '^$$' -fuzz FuzzDecodeEntry -fuzztime 30s ./comment/
	go test -run '^$$' -fuzz FuzzWords -fuzztime 30s ./comment/
	go test -run '^$$' -fuzz FuzzHTMLText -fuzztime 30s ./transfer/
	go test -run '^$$' -fuzz FuzzAppendString -fuzztime 30s ./internal/jsonenc/
	go test -run '^$$' -fuzz FuzzParseNewComment -fuzztime 30s ./api/
	go test -run '^$$' -fuzz FuzzDecodePlain -fuzztime 30s ./api/
	go test -run '^$$' -fuzz FuzzDecode -fuzztime 30s ./realtime/socketio/
	go test -run '^$$' -fuzz FuzzDecode -fuzztime 30s ./realtime/engineio/
	go test -run '^$$' -fuzz FuzzWSReader -fuzztime 30s ./realtime/engineio/

clean:
	scripts/services.sh stop || true
	rm -rf bin .run
