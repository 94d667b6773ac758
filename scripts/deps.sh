#!/usr/bin/env bash
# Installs and builds what commentd's tests and `make run` need, idempotently,
# on a fresh Debian machine: redis-server, chromium, python3-socketio, Node
# (apt), fonts-noto-cjk and -color-emoji, bin/devmongo and the Node test packages.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_updated=""
apt_install() {
	local sudo=""
	[ "$(id -u)" = 0 ] || sudo="sudo"
	if [ -z "$apt_updated" ]; then
		$sudo apt-get update -qq
		apt_updated=1
	fi
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if ! command -v redis-server >/dev/null; then
	echo "deps: installing redis-server" >&2
	apt_install redis-server
fi

# devmongo: its own module (FerretDB); rebuilt when its sources change.
if [ ! -x bin/devmongo ] || [ -n "$(find tools/devmongo -newer bin/devmongo -type f | head -1)" ]; then
	echo "deps: building bin/devmongo" >&2
	mkdir -p bin
	(cd tools/devmongo && go build -o ../../bin/devmongo .)
fi

# Browser tests: Debian's chromium, driven by playwright-core.
if ! command -v chromium >/dev/null; then
	echo "deps: installing chromium" >&2
	apt_install chromium
fi
# The widget's screenshots: a CJK font, or Hangul shows as boxes, and
# colour emoji for its reaction buttons.
if ! fc-list 2>/dev/null | grep -qi 'Noto Sans CJK' || ! fc-list 2>/dev/null | grep -qi 'Noto Color Emoji'; then
	echo "deps: installing fonts-noto-cjk fonts-noto-color-emoji" >&2
	apt_install fonts-noto-cjk fonts-noto-color-emoji
fi

# The Python client suite (clients/python, TestPythonClients): Debian's
# python-socketio for Debian's python3, with the transports of its sync
# client (requests, websocket-client) and of its asyncio one (aiohttp).
if ! /usr/bin/python3 -c 'import socketio, aiohttp, requests, websocket' 2>/dev/null; then
	echo "deps: installing python3-socketio" >&2
	apt_install python3-socketio python3-aiohttp python3-requests python3-websocket
fi

# The Node contract suite (official socket.io-client) and, later, browser
# tests: packages from the lock file.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "deps: installing nodejs and npm" >&2
	apt_install nodejs npm
fi
if [ ! -d web/test/node_modules ] || [ web/test/package-lock.json -nt web/test/node_modules ]; then
	echo "deps: npm ci in web/test" >&2
	(cd web/test && npm ci --no-audit --no-fund --loglevel=error)
	touch web/test/node_modules
fi
