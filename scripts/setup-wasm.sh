#!/usr/bin/env bash
# Installs the Debian toolchains that build slspipe's WebAssembly guest modules
# (plugins/build.sh): clang + lld + wasi-libc for C, Debian's rustc with the wasm32
# standard library for Rust, and wabt for the hand-written .wat test modules. Go guests
# need only the Go toolchain. AssemblyScript guests need node and npm (Debian nodejs,
# npm): the compiler version pinned by plugins/sdk/assemblyscript/package-lock.json is
# installed there with npm ci. Idempotent: installs only what is missing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

# install_asc installs the pinned AssemblyScript compiler into the SDK's node_modules.
install_asc() {
	local sdk="$root/plugins/sdk/assemblyscript"
	[[ -x "$sdk/node_modules/.bin/asc" ]] && return 0
	echo "setup-wasm: installing the AssemblyScript compiler (npm ci in $sdk)"
	(cd "$sdk" && npm ci --no-audit --no-fund --loglevel=error)
}

need=()
command -v clang >/dev/null || need+=(clang)
command -v wasm-ld >/dev/null || need+=(lld)
[[ -d /usr/lib/wasm32-wasi ]] || need+=(wasi-libc)
ls /usr/lib/llvm-*/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a >/dev/null 2>&1 || need+=(libclang-rt-14-dev-wasm32)
command -v wat2wasm >/dev/null || need+=(wabt)
rust=()
# A rustup toolchain earlier on PATH cannot target wasm offline: only Debian's
# /usr/bin/rustc with libstd-rust-dev-wasm32 is used.
[[ -x /usr/bin/rustc ]] || rust+=(rustc)
[[ -d /usr/lib/rustlib/wasm32-unknown-unknown ]] || rust+=(libstd-rust-dev-wasm32)
command -v npm >/dev/null || need+=(nodejs npm)

if ((${#need[@]} + ${#rust[@]} == 0)); then
	install_asc
	exit 0
fi
if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
$SUDO apt-get update -qq
if ((${#need[@]})); then
	echo "setup-wasm: installing ${need[*]}"
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
if ((${#rust[@]})); then
	echo "setup-wasm: installing ${rust[*]}"
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${rust[@]}"
fi
install_asc
