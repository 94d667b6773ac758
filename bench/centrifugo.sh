#!/usr/bin/env bash
# Centrifugo v6, the fan-out ceiling beside commentd in the fanout and hot
# scenarios: in-memory broker, no history, no persistence.
#
#   bench/centrifugo.sh install            go install it into bin/ (once)
#   bench/centrifugo.sh config PORT FILE   write a minimal config for the bench
#
# The config: anonymous clients without a token (client.insecure; the bench
# runs on loopback only), the HTTP API on the same port with a key, logs at
# warn. Run it with `bin/centrifugo -c FILE`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

CENTRIFUGO_VERSION=v6.9.1
# The HTTP API key of the bench's Centrifugo; it listens on loopback only.
CENTRIFUGO_API_KEY=${CENTRIFUGO_API_KEY:-commentbench}

case ${1:-} in
install)
	if [ -x bin/centrifugo ] && go version -m bin/centrifugo 2>/dev/null | grep -q "centrifugo/v6.*$CENTRIFUGO_VERSION"; then
		exit 0
	fi
	echo "centrifugo: installing $CENTRIFUGO_VERSION into bin/ (a few minutes the first time)" >&2
	mkdir -p bin
	GOBIN="$PWD/bin" go install "github.com/centrifugal/centrifugo/v6@$CENTRIFUGO_VERSION"
	;;
config)
	port=${2:?port} file=${3:?file}
	cat >"$file" <<JSON
{
  "http_server": {"address": "127.0.0.1", "port": $port},
  "client": {"insecure": true, "allowed_origins": ["http://127.0.0.1:$port"]},
  "http_api": {"key": "$CENTRIFUGO_API_KEY"},
  "channel": {"without_namespace": {"allow_subscribe_for_client": true, "allow_publish_for_client": true}},
  "log": {"level": "warn"}
}
JSON
	;;
*)
	echo "usage: bench/centrifugo.sh install | config PORT FILE" >&2
	exit 2
	;;
esac
