#!/usr/bin/env bash
# Installs and builds what commentd's tests and `make run` need, idempotently,
# on a fresh Debian machine: redis-server (apt) and bin/devmongo.
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
