#!/usr/bin/env bash
# The long chaos run (`make chaos`), about half an hour on 2 cores:
#  1. 10 minutes of load from 24 clients on 3 nodes (a quarter of their
#     operations edit or delete comments) and 2 moderators, with a fault
#     every 0.5-1.5 s (every kind, shuffled) and MongoDB down for 2 minutes
#     once;
#  2. Redis crashes only, AOF appendfsync everysec then always, 60 s each,
#     after 20 s of each without faults and with clients that do not pause
#     (the cost of always).
# Each run ends with the queue and register checkers; the script runs them
# all and fails if one found a lost, duplicated, unexpected or resurrected
# comment, a wrong final state, a phantom or an order violation. Reports:
# .run/chaos/*.txt and *.json, and every room event received in *.events.
# Usage: scripts/chaos.sh [extra commentchaos flags for the long run]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
mkdir -p bin .run/chaos
go build -o bin/commentd ./cmd/commentd
go build -o bin/commentchaos ./cmd/commentchaos
out=.run/chaos
failed=()
# chaos NAME FLAGS...: one run; a failed one is noted and the others still run.
chaos() {
	local name=$1
	shift
	if ! bin/commentchaos -commentd bin/commentd -json "$out/$name.json" -events "$out/$name.events" "$@" |
		tee "$out/$name.txt"; then
		failed+=("$name")
	fi
}

chaos long -duration "${CHAOS_DURATION:-10m}" -clients 24 -fault-gap 1s -long-mongo-down 2m "$@"
for mode in everysec always; do
	chaos "calm-$mode" -duration 20s -clients 48 -think 1ns -faults "" -long-mongo-down 0 -appendfsync "$mode"
	chaos "redis-$mode" -duration 60s -faults redis-crash -fault-gap 2s -long-mongo-down 0 -appendfsync "$mode"
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "chaos: FAILED: ${failed[*]}; reports in $out/" >&2
	exit 1
fi
echo "chaos: all runs passed; reports in $out/"
