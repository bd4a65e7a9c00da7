#!/usr/bin/env bash
# Build the Function Compute code package for sg-remediator.
#
# Output:
#   dist/bootstrap            static x86_64 musl binary (runs on every FC custom runtime:
#                             custom, custom.debian10/11/12, whatever their glibc)
#   dist/sg-remediator.zip    `bootstrap` at the zip root, mode 0755, byte-for-byte reproducible
#
# Needs: the rustup target x86_64-unknown-linux-musl and Debian's musl-tools
# (x86_64-linux-musl-gcc, for ring's C code). Missing tools are reported, not guessed at;
# with CI=true and root, musl-tools is installed with apt-get (CI machines start fresh).
set -euo pipefail

readonly TARGET=x86_64-unknown-linux-musl
readonly MUSL_CC=x86_64-linux-musl-gcc

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

die() {
    echo "package.sh: $*" >&2
    exit 1
}

ensure_musl_gcc() {
    command -v "$MUSL_CC" >/dev/null 2>&1 && return 0
    if [[ "${CI:-}" == "true" && "$(id -u)" == "0" ]] && command -v apt-get >/dev/null 2>&1; then
        echo "package.sh: $MUSL_CC missing; installing musl-tools (CI=true, root)" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq musl-tools >/dev/null \
            || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq musl-tools >/dev/null; } \
            || die "apt-get install musl-tools failed"
        command -v "$MUSL_CC" >/dev/null 2>&1 && return 0
    fi
    die "$MUSL_CC not found: install Debian's musl-tools (sudo apt-get install musl-tools); ring (via rustls) compiles C for the musl target"
}

ensure_rust_target() {
    if command -v rustup >/dev/null 2>&1; then
        if ! rustup target list --installed | grep -qx "$TARGET"; then
            echo "package.sh: adding rustup target $TARGET" >&2
            rustup target add "$TARGET" || die "rustup target add $TARGET failed"
        fi
    elif [[ ! -d "$(rustc --print sysroot)/lib/rustlib/$TARGET" ]]; then
        die "Rust standard library for $TARGET not found and rustup is not available"
    fi
}

command -v cargo >/dev/null 2>&1 || die "cargo not found"
command -v python3 >/dev/null 2>&1 || die "python3 not found (used to write the reproducible zip)"
ensure_musl_gcc
ensure_rust_target

# cc-rs (ring's build script) finds x86_64-linux-musl-gcc by itself for this target; no CC
# override, so this build shares its cache with a plain `cargo build --target $TARGET`.
cargo build --release --locked --target "$TARGET" --bin bootstrap

target_dir="${CARGO_TARGET_DIR:-$repo_root/target}"
binary="$target_dir/$TARGET/release/bootstrap"
[[ -f "$binary" ]] || die "build finished but $binary is missing"

mkdir -p dist
install -m 0755 "$binary" dist/bootstrap
rm -f dist/sg-remediator.zip
python3 scripts/make-zip.py dist/bootstrap dist/sg-remediator.zip

size_of() { stat -c %s "$1"; }
printf 'package.sh: dist/bootstrap          %10d bytes\n' "$(size_of dist/bootstrap)"
printf 'package.sh: dist/sg-remediator.zip  %10d bytes\n' "$(size_of dist/sg-remediator.zip)"
