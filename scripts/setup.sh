#!/usr/bin/env bash
# Installs what building and testing slspipe needs on a fresh Debian machine.
# Idempotent: it only installs what is missing, so `make test` can call it every time.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v go >/dev/null || { echo "setup: Go 1.26 is required (https://go.dev/dl/)" >&2; exit 1; }
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)
# The status page's browser tests drive Debian's Chromium over the DevTools
# protocol (no WebDriver needed); a font keeps its screenshots legible.
[[ -x /usr/bin/chromium ]] || need_apt+=(chromium fonts-dejavu-core)

if ((${#need_apt[@]})); then
	if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
	echo "setup: installing Debian packages: ${need_apt[*]}"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

go mod download

# Toolchains that build the WebAssembly guest modules the tests run (C, Rust, WAT).
"$(dirname "$0")/setup-wasm.sh"

# The second, independent SLS client the emulator is tested with (npm @alicloud/log).
npm_dir=emulator/testdata/npm
if [[ -f $npm_dir/package.json && ! -d $npm_dir/node_modules/@alicloud/log ]]; then
	echo "setup: npm install in $npm_dir"
	(cd "$npm_dir" && npm install --no-audit --no-fund --loglevel=error)
fi
