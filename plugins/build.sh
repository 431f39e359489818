#!/usr/bin/env bash
# Builds every guest module used by slspipe's tests and benchmarks from source.
#
#   plugins/build.sh OUTDIR
#
# Writes OUTDIR/<lang>_<name>.wasm. A toolchain that is not installed is reported and its
# modules skipped (scripts/setup-wasm.sh installs them all); any build failure is fatal.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:?usage: build.sh OUTDIR}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
td="$here/testdata"

# Debian's rustc is the one that has the wasm32 standard library; a rustup toolchain
# earlier on PATH cannot target wasm offline.
RUSTC="${RUSTC:-/usr/bin/rustc}"
CLANG="${CLANG:-clang}"
GO="${GO:-go}"

skip() { echo "build.sh: skip $1: $2" >&2; }

if command -v "$CLANG" >/dev/null && [[ -d /usr/lib/wasm32-wasi || -d /usr/share/wasi-sysroot ]]; then
	# Without libc: the SDK's own allocator, bulk-memory for memcpy. behave keeps its
	# name section so trap stack traces show function names.
	for name in identity passthrough; do
		"$CLANG" --target=wasm32 -O2 -nostdlib -mbulk-memory -Wl,--no-entry -Wl,--strip-all \
			-I "$here/sdk/c" -o "$out/c_$name.wasm" "$td/c/$name.c"
	done
	"$CLANG" --target=wasm32 -O2 -nostdlib -mbulk-memory -Wl,--no-entry \
		-I "$here/sdk/c" -o "$out/c_behave.wasm" "$td/c/behave.c"
	# With wasi-libc, as most C modules will be built.
	"$CLANG" --target=wasm32-wasi --sysroot=/usr -O2 -mexec-model=reactor -Wl,--strip-all \
		-I "$here/sdk/c" -o "$out/c_identity_wasi.wasm" "$td/c/identity.c"
	"$CLANG" --target=wasm32-wasi --sysroot=/usr -O2 -mexec-model=reactor -Wl,--strip-all \
		-I "$here/sdk/c" -o "$out/c_sandbox.wasm" "$td/c/sandbox.c"
	"$CLANG" --target=wasm32 -O2 -nostdlib -mbulk-memory -Wl,--no-entry -Wl,--strip-all \
		-o "$out/c_per_record.wasm" "$td/c/per_record.c"
else
	skip "C modules" "clang with wasi-libc not found"
fi

if [[ -x "$RUSTC" ]] && [[ -n "$(ls -d /usr/lib/rustlib/wasm32-unknown-unknown 2>/dev/null)" ]]; then
	"$RUSTC" --edition 2021 --target wasm32-unknown-unknown --crate-type cdylib -C opt-level=3 -C target-feature=+bulk-memory \
		-C strip=symbols -o "$out/rust_identity.wasm" "$td/rust/identity.rs"
	"$RUSTC" --edition 2021 --target wasm32-wasi --crate-type cdylib -C opt-level=3 -C target-feature=+bulk-memory \
		-C strip=symbols -o "$out/rust_identity_wasi.wasm" "$td/rust/identity.rs"
else
	skip "Rust modules" "$RUSTC with the wasm32-unknown-unknown standard library not found"
fi

if command -v "$GO" >/dev/null; then
	for name in identity panicky; do
		(cd "$td/go/$name" && GOOS=wasip1 GOARCH=wasm GOFLAGS=-mod=mod GOWORK=off "$GO" build -buildmode=c-shared \
			-trimpath -o "$out/go_$name.wasm" .)
	done
else
	skip "Go modules" "go not found"
fi

if command -v wat2wasm >/dev/null; then
	for f in "$td"/wat/*.wat; do
		wat2wasm "$f" -o "$out/wat_$(basename "$f" .wat).wasm"
	done
else
	skip "WAT modules" "wat2wasm (Debian package wabt) not found"
fi
cp "$td/wat/not_wasm.txt" "$out/not_wasm.wasm"
