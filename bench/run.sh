#!/usr/bin/env bash
# make bench: runs every commentbench scenario against commentd in
# write-behind and in write-through mode (the naive design), and the same
# scenarios against the peers (the systems commentd is compared with,
# started here on the same machine), each measured scenario BENCH_RUNS
# times (3), on a Redis and a devmongo of its own on non-default loopback
# ports, then writes BENCHMARKS.md and bench/report/.
#
#   BENCH_QUICK=1       small sizes (a minute or two), for trying the script
#   BENCH_RUNS=3        runs of each scenario and mode (medians are reported)
#   BENCH_REDIS_PORT=16379 BENCH_MONGO_PORT=37017 BENCH_HTTP_PORT=18099
#     (below 32768: ports in Linux's ephemeral range can be taken by any
#     outgoing connection, on a machine busy with other load tests too)
#   BENCH_SCENARIOS="ingest changes sustained fanout conns join drain reactions counts hot coldjoin"
#   BENCH_DRAIN_N, BENCH_SUSTAINED_DURATION: override those two sizes
#   BENCH_HOT_BATCH=false: hot's readers join without batch: true
#   BENCH_PEERS="node centrifugo": the peers to run beside commentd ("" for
#     none). node: bench/peers/node, the naive Node.js + Socket.IO + MongoDB
#     server (npm ci on first use); centrifugo: Centrifugo v6 (in-memory,
#     bench/centrifugo.sh installs it), the fan-out ceiling, on fanout and
#     hot. A peer whose start_peer_<name> is not defined here is skipped
#     with a note.
#   BENCH_MD=BENCHMARKS.md BENCH_REPORT=bench/report: where the report goes
#     (elsewhere for a run of some scenarios only, e.g. .run/bench/)
#
# Data and logs go to .run/bench/ (wiped at start); results to
# .run/bench/results/<mode or peer>/<scenario>-<run>.json.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

QUICK=${BENCH_QUICK:-0}
RUNS=${BENCH_RUNS:-3}
REDIS_PORT=${BENCH_REDIS_PORT:-16379}
MONGO_PORT=${BENCH_MONGO_PORT:-37017}
HTTP_PORT=${BENCH_HTTP_PORT:-18099}
SCENARIOS=${BENCH_SCENARIOS:-ingest changes sustained fanout conns join drain reactions counts hot coldjoin}
MD=${BENCH_MD:-BENCHMARKS.md}
REPORT=${BENCH_REPORT:-bench/report}
PEERS=${BENCH_PEERS-node centrifugo}
OUT=.run/bench
URL=http://127.0.0.1:$HTTP_PORT
MONGO_URI=mongodb://127.0.0.1:$MONGO_PORT

# Scenario sizes: the issue's target table, or small ones.
if [ "$QUICK" = 1 ]; then
	INGEST=(-clients 20 -posts 4 -window 4 -duration 3s)
	CHANGES=(-clients 20 -posts 4 -window 4 -duration 3s -max 3000 -warm 20 -settle 2m)
	SUSTAINED=(-rate 200 -clients 10 -posts 5 -duration 5s -settle 30s)
	FANOUT=(-subscribers 100 -rate 50 -duration 3s)
	CONNS=(-conns 500 -sources 4 -hold 2s)
	JOIN=(-clients 10 -posts 5 -warm 100 -duration 2s)
	DRAIN=(-n 5000 -clients 16 -posts 16)
	REACTIONS=(-clients 8 -users 2000 -readers 5 -duration 3s -settle 2m)
	COUNTS=(-posts 100 -comments 3 -clients 4 -duration 3s -settle 2m)
	HOT=(-readers 500 -per-worker 250 -rate 20 -duration 3s)
	COLDJOIN=(-prefill 5000 -prefill-posts 100 -clients 20 -posts 5 -ingest-clients 20 -ingest-posts 4 -duration 3s)
else
	INGEST=(-clients 200 -posts 20 -window 4 -duration 20s)
	CHANGES=(-clients 200 -posts 20 -window 4 -duration 20s -max 10000 -warm 10 -settle 10m)
	SUSTAINED=(-rate 2000 -clients 20 -posts 20 -duration 2m -settle 2m)
	FANOUT=(-subscribers 2000 -rate 200 -duration 20s)
	CONNS=(-conns 18000 -sources 8 -hold 5s)
	JOIN=(-clients 50 -posts 20 -warm 100 -duration 10s)
	DRAIN=(-n 1000000 -clients 64 -posts 64 -window 16)
	REACTIONS=(-clients 32 -users 50000 -window 4 -readers 50 -duration 20s -settle 5m)
	COUNTS=(-posts 500 -comments 4 -page 50 -clients 16 -duration 20s -settle 5m)
	HOT=(-readers 10000 -per-worker 5000 -rate 100 -duration 20s)
	COLDJOIN=(-prefill 500000 -prefill-posts 5000 -clients 200 -posts 50 -ingest-clients 200 -ingest-posts 20 -window 4 -duration 20s)
fi
[ -n "${BENCH_DRAIN_N:-}" ] && DRAIN+=(-n "$BENCH_DRAIN_N")
[ -n "${BENCH_SUSTAINED_DURATION:-}" ] && SUSTAINED+=(-duration "$BENCH_SUSTAINED_DURATION")
[ -n "${BENCH_HOT_BATCH:-}" ] && HOT+=(-batch="$BENCH_HOT_BATCH")

for port in "$REDIS_PORT" "$MONGO_PORT" "$HTTP_PORT"; do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		echo "bench: port $port is in use; set BENCH_*_PORT" >&2
		exit 1
	fi
done

scripts/deps.sh
mkdir -p bin
go build -o bin/commentd ./cmd/commentd
go build -o bin/commentbench ./cmd/commentbench

rm -rf "$OUT"
mkdir -p "$OUT/redis" "$OUT/mongo" "$OUT/results"

redis_pid="" mongo_pid="" server_pid=""
cleanup() {
	for pid in $server_pid ${centrifugo_pid:-} $mongo_pid $redis_pid; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}
trap cleanup EXIT
trap "exit 143" TERM INT

wait_port() { # port pid log
	for _ in $(seq 1 300); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		if ! kill -0 "$2" 2>/dev/null; then
			# A port in the ephemeral range (32768-60999) can be taken by any
			# outgoing connection between the check above and the bind.
			echo "bench: the server for port $1 exited: $(tail -1 "$3")" >&2
			return 1
		fi
		sleep 0.1
	done
	echo "bench: nothing listens on port $1 after 30s" >&2
	return 1
}

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$PWD/$OUT/redis" --appendonly yes \
	--appendfsync everysec --maxmemory-policy noeviction --save "" --daemonize no \
	--logfile "$PWD/$OUT/redis.log" &
redis_pid=$!
bin/devmongo -listen "127.0.0.1:$MONGO_PORT" -data "$OUT/mongo" >"$OUT/devmongo.log" 2>&1 &
mongo_pid=$!
wait_port "$REDIS_PORT" "$redis_pid" "$OUT/redis.log"
wait_port "$MONGO_PORT" "$mongo_pid" "$OUT/devmongo.log"

# The flags every commentd of the run gets; the limits are off, since one
# client machine sends for many users. Each run has its own Redis prefix and
# MongoDB database: devmongo pushes no filter down to SQLite, so a history
# read scans the whole collection, and a collection grown by earlier runs
# would slow the later ones.
common_flags() {
	echo --redis.addrs "127.0.0.1:$REDIS_PORT" --mongo.uri "$MONGO_URI" --redis.prefix "$1" --mongo.database "${1//-/_}" \
		--limits.comments_per_second 0 --limits.connections_per_ip 0 --buffer.max_len 3000000 --log.level warn
}

COMMANDS=()
note_command() { # the first run of each scenario and mode goes into BENCHMARKS.md
	[ "$1" = 1 ] && COMMANDS+=("${*:2}")
	return 0
}

# The processes commentbench samples beside itself: set by start_server
# and by each start_peer_<name>.
SAMPLE=() SAMPLE_NOTE=""

wait_healthz() { # what log
	for _ in $(seq 1 300); do
		curl -fs "$URL/healthz" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "bench: $1 did not start; see $2" >&2
	return 1
}

start_server() { # mode prefix run [extra flags]
	local mode=$1 prefix=$2 run=$3
	shift 3
	# shellcheck disable=SC2046
	local cmd=(bin/commentd serve --http.addr "127.0.0.1:$HTTP_PORT" --flush.mode "$mode" $(common_flags "$prefix") "$@")
	note_command "$run" "${cmd[*]}"
	"${cmd[@]}" >>"$OUT/commentd.log" 2>&1 &
	server_pid=$!
	SAMPLE=(-server-pid "$server_pid" -procs "redis-server=$redis_pid,devmongo=$mongo_pid")
	SAMPLE_NOTE="-server-pid \$COMMENTD_PID -procs redis-server=\$REDIS_PID,devmongo=\$MONGO_PID"
	wait_healthz commentd "$OUT/commentd.log"
}

stop_server() {
	kill "$server_pid" 2>/dev/null || true
	wait "$server_pid" 2>/dev/null || true
	server_pid=""
}

bench() { # scenario label run [flags]
	local scenario=$1 label=$2 run=$3
	shift 3
	mkdir -p "$OUT/results/$label"
	local cmd=(bin/commentbench "$scenario" -url "$URL" -label "$label" -mongo "$MONGO_URI" "$@")
	note_command "$run" "${cmd[*]} $SAMPLE_NOTE -json $OUT/results/$label/$scenario-N.json"
	echo "== $scenario $label run $run/$RUNS" >&2
	"${cmd[@]}" "${SAMPLE[@]}" -json "$OUT/results/$label/$scenario-$run.json"
}

sizes() {
	case $1 in
	ingest) echo "${INGEST[@]}" ;;
	changes) echo "${CHANGES[@]}" ;;
	sustained) echo "${SUSTAINED[@]}" ;;
	fanout) echo "${FANOUT[@]}" ;;
	conns) echo "${CONNS[@]}" ;;
	join) echo "${JOIN[@]}" ;;
	reactions) echo "${REACTIONS[@]}" ;;
	counts) echo "${COUNTS[@]}" ;;
	hot) echo "${HOT[@]}" ;;
	coldjoin) echo "${COLDJOIN[@]}" ;;
	esac
}

# Peers: the systems commentd is compared with, driven by the same
# commentbench scenarios at the same sizes on the same machine, with
# -label <peer> (their results in results/<peer>/). A peer <name> is:
#   peer_scenarios_<name>   the scenarios it runs
#   start_peer_<name> run   starts it on $HTTP_PORT with a MongoDB database
#                           of its own; sets server_pid, SAMPLE, SAMPLE_NOTE
#   peer_flags_<name>       optional: more commentbench flags (a driver)
# stop_server stops it. A peer that fails a scenario does not end the run:
# the failure goes into the report's notes and its column is left out.
PEER_NOTES=()

peer_scenarios_node() { echo ingest sustained fanout join; }
start_peer_node() { # run scenario
	local dir=bench/peers/node db="peer_node_$2_$1"
	if [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
		(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) >&2
	fi
	note_command "$1" "(cd $dir && PORT=$HTTP_PORT MONGO_URI=$MONGO_URI MONGO_DB=$db node server.js)"
	(cd "$dir" && PORT=$HTTP_PORT MONGO_URI=$MONGO_URI MONGO_DB=$db exec node server.js) >>"$OUT/peer-node.log" 2>&1 &
	server_pid=$!
	SAMPLE=(-procs "node=$server_pid,devmongo=$mongo_pid")
	SAMPLE_NOTE="-procs node=\$NODE_PID,devmongo=\$MONGO_PID"
	wait_healthz "the node peer" "$OUT/peer-node.log"
}

# Centrifugo, the fan-out ceiling: in-memory, no persistence, driven through
# its own protocol (commentbench -target centrifugo).
peer_scenarios_centrifugo() { echo fanout hot; }
start_peer_centrifugo() { # run scenario
	bench/centrifugo.sh install >&2
	bench/centrifugo.sh config "$HTTP_PORT" "$OUT/centrifugo.json"
	note_command "$1" "bin/centrifugo -c centrifugo.json (bench/centrifugo.sh config $HTTP_PORT)"
	bin/centrifugo -c "$OUT/centrifugo.json" >>"$OUT/peer-centrifugo.log" 2>&1 &
	server_pid=$!
	SAMPLE=(-server-pid "$server_pid")
	SAMPLE_NOTE="-server-pid \$CENTRIFUGO_PID"
	wait_port "$HTTP_PORT" "$server_pid" "$OUT/peer-centrifugo.log"
}
peer_flags_centrifugo() {
	echo -target centrifugo -centrifugo-key "${CENTRIFUGO_API_KEY:-commentbench}" \
		-centrifugo-url "ws://127.0.0.1:$HTTP_PORT/connection/websocket" -centrifugo-api "http://127.0.0.1:$HTTP_PORT/api"
}

peers=""
for peer in $PEERS; do
	if declare -F "start_peer_$peer" >/dev/null; then
		peers+=" $peer"
	else
		echo "bench: peer $peer is not in this bench/run.sh; skipped" >&2
		PEER_NOTES+=("Peer $peer was asked for (BENCH_PEERS) but this bench/run.sh cannot start it: skipped.")
	fi
done

run_peer() { # peer scenario run
	local peer=$1 scenario=$2 run=$3 flags=()
	[[ " $("peer_scenarios_$peer") " == *" $scenario "* ]] || return 0
	# shellcheck disable=SC2207
	declare -F "peer_flags_$peer" >/dev/null && flags=($("peer_flags_$peer"))
	if ! "start_peer_$peer" "$run" "$scenario"; then
		PEER_NOTES+=("$peer did not start for $scenario run $run.")
		stop_server
		return 0
	fi
	# shellcheck disable=SC2046
	if ! bench "$scenario" "$peer" "$run" "${flags[@]}" $(sizes "$scenario"); then
		PEER_NOTES+=("$peer failed $scenario run $run (commentbench's error is in the run's output).")
	fi
	stop_server
}

start=$(date +%s)
for scenario in $SCENARIOS; do
	for run in $(seq 1 "$RUNS"); do
		if [ "$scenario" = drain ]; then
			# A commentd without a flusher fills the buffer; commentbench then
			# starts a `commentd flush` worker and times the drain. Only
			# write-behind has a buffer to drain.
			prefix="drain$run"
			start_server write-behind "$prefix" "$run" --flush.enabled=false
			# shellcheck disable=SC2046
			bench drain write-behind "$run" "${DRAIN[@]}" -database "$prefix" -flush-cmd "bin/commentd flush $(common_flags "$prefix")"
			stop_server
			continue
		fi
		if [ "$scenario" = coldjoin ]; then
			# One database for every run: the prefill (500,000 comments,
			# inserted directly) is made once. commentd marks its sets of
			# stored posts complete by itself only on an empty database; on
			# this one it is told which posts have comments, as a deployment
			# is once after the upgrade.
			prefix="coldjoin$run"
			# shellcheck disable=SC2046
			bin/commentbench coldjoin -url "$URL" -mongo "$MONGO_URI" -database coldjoin -prefill-only $(sizes coldjoin) >&2
			# shellcheck disable=SC2046
			bin/commentd stored-posts $(common_flags "$prefix") --mongo.database coldjoin >&2
			start_server write-behind "$prefix" "$run" --mongo.database coldjoin
			# shellcheck disable=SC2046
			bench coldjoin write-behind "$run" -database coldjoin $(sizes coldjoin)
			stop_server
			continue
		fi
		modes="write-behind write-through"
		# Reactions go through the buffer in both modes, and write-through
		# runs no flusher: there they would never reach MongoDB.
		[ "$scenario" = reactions ] && modes=write-behind
		for mode in $modes; do
			start_server "$mode" "$scenario-$mode-$run" "$run"
			# shellcheck disable=SC2046
			bench "$scenario" "$mode" "$run" $(sizes "$scenario")
			stop_server
		done
		for peer in $peers; do
			run_peer "$peer" "$scenario" "$run"
		done
	done
done
took=$(($(date +%s) - start))

# The machine and the commands, for the report.
json_str() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; printf '"%s"' "$s"; }
{
	echo '{"machine": {'
	echo "\"nproc\": $(json_str "$(nproc)"),"
	echo "\"cpu\": $(json_str "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"),"
	echo "\"ram\": $(json_str "$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"),"
	echo "\"kernel\": $(json_str "$(uname -sr)"),"
	echo "\"go\": $(json_str "$(go version)"),"
	echo "\"redis\": $(json_str "$(redis-server --version | cut -d' ' -f1-3)"),"
	echo "\"commit\": $(json_str "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"),"
	echo "\"date\": $(json_str "$(date -u +%Y-%m-%dT%H:%MZ)"),"
	echo "\"sizes\": $(json_str "$([ "$QUICK" = 1 ] && echo "BENCH_QUICK=1 (small)" || echo "full (the issue's target table)"), $RUNS runs each, ${took}s in all")"
	echo '}, "commands": ['
	for i in "${!COMMANDS[@]}"; do
		[ "$i" -gt 0 ] && echo ","
		json_str "${COMMANDS[$i]}"
	done
	echo '], "notes": ['
	json_str "Regenerate with \`make bench\` (BENCH_QUICK=1 for small sizes). Medians of $RUNS runs; one fresh commentd per run. drain runs in write-behind only: write-through keeps no buffer."
	echo ","
	json_str "changes: write-through stores each edit and delete with its own synchronous MongoDB update before the ack; write-behind counts MongoDB write commands once the buffer is empty again. devmongo is sent a batch's updates 40 per command (FerretDB hangs on ~100), so its update commands are counted as sent; the computed columns are what real MongoDB would be sent for the same batches (one insert and one update command per batch), not measured."
	echo ","
	json_str "coldjoin runs in write-behind only, on one database for all its runs: 500,000 comments inserted directly once (-prefill), then \`commentd stored-posts\` before each run (its Redis prefix is new), as after an upgrade. Its ratios compare two ingests of one run, alone and with joins of new posts."
	echo ","
	json_str "reactions runs in write-behind only: commentd buffers reactions in both modes, and write-through runs no flusher. Its MongoDB writes are counted once the buffer is empty again; the computed column is what real MongoDB would be sent (devmongo is sent updates 40 per command; a batch holds one update of the hot comment). counts: write-through asks MongoDB for every request (no Redis counts)."
	for n in "${PEER_NOTES[@]}"; do
		echo ","
		json_str "$n"
	done
	echo ']}'
} >"$OUT/meta.json"

bin/commentbench report -results "$OUT/results" -meta "$OUT/meta.json" -out "$REPORT" -md "$MD"
echo "bench: done in ${took}s; $MD and $REPORT/index.html" >&2
