#!/usr/bin/env bash
# Builds every guest module used by slspipe's tests and benchmarks from source.
#
#   plugins/build.sh OUTDIR
#
# Writes OUTDIR/<lang>_<name>.wasm: the test modules of testdata/, the SDKs' own test
# modules and the examples of examples/ (named after their directory, '-' as '_'). A
# toolchain that is not installed is reported and its modules skipped
# (scripts/setup-wasm.sh installs them all), except under CI (CI set), where a missing
# toolchain is fatal; any build failure is fatal.
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

ex="$here/examples"
ASC="$here/sdk/assemblyscript/node_modules/.bin/asc"

skip() {
	echo "build.sh: skip $1: $2" >&2
	if [[ -n "${CI:-}" ]]; then
		echo "build.sh: CI is set, so a missing toolchain is an error" >&2
		exit 1
	fi
}

if command -v "$CLANG" >/dev/null && [[ -d /usr/lib/wasm32-wasi || -d /usr/share/wasi-sysroot ]]; then
	# Without libc: the SDK's own allocator, bulk-memory for memcpy. behave keeps its
	# name section so trap stack traces show function names.
	for name in identity passthrough prefix_filter; do
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
	"$CLANG" --target=wasm32 -O2 -nostdlib -mbulk-memory -Wl,--no-entry -Wl,--strip-all \
		-I "$here/sdk/c" -o "$out/c_pii_mask.wasm" "$ex/pii-mask/pii_mask.c"
else
	skip "C modules" "clang with wasi-libc not found"
fi

if [[ -x "$RUSTC" ]] && [[ -n "$(ls -d /usr/lib/rustlib/wasm32-unknown-unknown 2>/dev/null)" ]]; then
	"$RUSTC" --edition 2021 --target wasm32-unknown-unknown --crate-type cdylib -C opt-level=3 -C target-feature=+bulk-memory \
		-C strip=symbols -o "$out/rust_identity.wasm" "$td/rust/identity.rs"
	"$RUSTC" --edition 2021 --target wasm32-wasi --crate-type cdylib -C opt-level=3 -C target-feature=+bulk-memory \
		-C strip=symbols -o "$out/rust_identity_wasi.wasm" "$td/rust/identity.rs"
	for name in nginx-parser filter-enrich; do
		"$RUSTC" --edition 2021 --target wasm32-unknown-unknown --crate-type cdylib -C opt-level=3 -C target-feature=+bulk-memory \
			-C strip=symbols -o "$out/rust_${name//-/_}.wasm" "$ex/$name/lib.rs"
	done
else
	skip "Rust modules" "$RUSTC with the wasm32-unknown-unknown standard library not found"
fi

if command -v "$GO" >/dev/null; then
	for name in identity panicky; do
		(cd "$td/go/$name" && GOOS=wasip1 GOARCH=wasm GOFLAGS=-mod=mod GOWORK=off "$GO" build -buildmode=c-shared \
			-trimpath -o "$out/go_$name.wasm" .)
	done
	for name in json-deserializer custom-serializer; do
		(cd "$ex/$name" && GOOS=wasip1 GOARCH=wasm GOFLAGS=-mod=mod GOWORK=off "$GO" build -buildmode=c-shared \
			-trimpath -o "$out/go_${name//-/_}.wasm" .)
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

# AssemblyScript: the compiler pinned by sdk/assemblyscript/package.json, installed there
# by scripts/setup-wasm.sh (npm ci). The SDK's abort handler replaces env.abort (which
# the host also provides, for modules built with asc's defaults). Compiled from plugins/
# so the --use path resolves.
if [[ -x "$ASC" ]]; then
	asc() {
		(cd "$here" && "$ASC" "$1" -O3 --runtime incremental \
			--use abort=sdk/assemblyscript/assembly/index/abortHandler -o "$2")
	}
	asc sdk/assemblyscript/tests/identity.ts "$out/as_identity.wasm"
	asc sdk/assemblyscript/tests/abort.ts "$out/as_abort.wasm"
	# The same module with asc's default abort (an env.abort import), which the host provides.
	(cd "$here" && "$ASC" sdk/assemblyscript/tests/abort.ts -O3 --runtime incremental -o "$out/as_abort_env.wasm")
	asc examples/fanout-router/index.ts "$out/as_fanout_router.wasm"
else
	skip "AssemblyScript modules" "$ASC not found (run scripts/setup-wasm.sh, or npm ci in plugins/sdk/assemblyscript)"
fi
cp "$td/wat/not_wasm.txt" "$out/not_wasm.wasm"
