#!/usr/bin/env bash
# Installs the Debian toolchains that build slspipe's WebAssembly guest modules
# (plugins/build.sh): clang + lld + wasi-libc for C, Debian's rustc with the wasm32
# standard library for Rust, and wabt for the hand-written .wat test modules. Go guests
# need only the Go toolchain. Idempotent: installs only what is missing.
set -euo pipefail

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

if ((${#need[@]} + ${#rust[@]} == 0)); then
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
