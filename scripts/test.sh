#!/usr/bin/env bash
# `make test`: installs what the tests need, then runs the whole suite with
# the race detector. Each test starts its own redis-server and devmongo on
# free loopback ports (internal/testsvc) and stops them, pass or fail.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
go vet ./...
go test -race -count=1 -timeout 25m ./...
