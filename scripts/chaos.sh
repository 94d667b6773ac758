#!/usr/bin/env bash
# The long chaos run (`make chaos`), about 17 minutes on 2 cores:
#  1. 10 minutes of load from 24 clients on 3 nodes with a fault every ~3 s
#     (every kind, shuffled) and MongoDB down for 2 minutes once;
#  2. Redis crashes only, AOF appendfsync everysec then always, 60 s each,
#     after 20 s of each without faults and with clients that do not pause
#     (the cost of always).
# Each run ends with the queue checker; the script fails if one finds a lost,
# duplicated or unexpected comment. Reports: .run/chaos/*.txt and *.json.
# Usage: scripts/chaos.sh [extra commentchaos flags for the long run]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
mkdir -p bin .run/chaos
go build -o bin/commentd ./cmd/commentd
go build -o bin/commentchaos ./cmd/commentchaos
out=.run/chaos
chaos() { bin/commentchaos -commentd bin/commentd "$@"; }

chaos -duration "${CHAOS_DURATION:-10m}" -clients 24 -fault-gap 1500ms -long-mongo-down 2m \
	-json "$out/long.json" "$@" | tee "$out/long.txt"
for mode in everysec always; do
	chaos -duration 20s -clients 48 -think 1ns -faults "" -long-mongo-down 0 -appendfsync "$mode" \
		-json "$out/calm-$mode.json" | tee "$out/calm-$mode.txt"
	chaos -duration 60s -faults redis-crash -fault-gap 2s -long-mongo-down 0 -appendfsync "$mode" \
		-json "$out/redis-$mode.json" | tee "$out/redis-$mode.txt"
done
echo "chaos: all runs passed; reports in $out/"
