#!/usr/bin/env bash
# Starts or stops the local Redis and devmongo of `make run`, on loopback
# with their data under .run/. Usage: scripts/services.sh start|stop
#   REDIS_PORT (6379), MONGO_PORT (27017)
set -euo pipefail
cd "$(dirname "$0")/.."
REDIS_PORT=${REDIS_PORT:-6379}
MONGO_PORT=${MONGO_PORT:-27017}
RUN=.run

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
	for _ in $(seq 1 300); do
		listening "$1" && return 0
		sleep 0.1
	done
	echo "services: nothing listens on port $1 after 30s; see $RUN/*.log" >&2
	return 1
}

start() {
	mkdir -p "$RUN/redis" "$RUN/mongo"
	if listening "$REDIS_PORT"; then
		echo "services: port $REDIS_PORT already in use; using the Redis there" >&2
	else
		redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$PWD/$RUN/redis" \
			--appendonly yes --appendfsync everysec --maxmemory-policy noeviction \
			--save "" --daemonize yes --pidfile "$PWD/$RUN/redis.pid" --logfile "$PWD/$RUN/redis.log"
		wait_port "$REDIS_PORT"
	fi
	if listening "$MONGO_PORT"; then
		echo "services: port $MONGO_PORT already in use; using the MongoDB there" >&2
	else
		nohup bin/devmongo -listen "127.0.0.1:$MONGO_PORT" -data "$RUN/mongo" >"$RUN/devmongo.log" 2>&1 &
		echo $! >"$RUN/devmongo.pid"
		wait_port "$MONGO_PORT"
	fi
	echo "services: redis 127.0.0.1:$REDIS_PORT, mongodb://127.0.0.1:$MONGO_PORT" >&2
}

stop() {
	for name in devmongo redis; do
		if [ -f "$RUN/$name.pid" ]; then
			kill "$(cat "$RUN/$name.pid")" 2>/dev/null || true
			rm -f "$RUN/$name.pid"
		fi
	done
}

case "${1:-}" in
start) start ;;
stop) stop ;;
*) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
