#!/usr/bin/env bash
# Build the Function Compute code package for sg-remediator.
#
# Output:
#   dist/bootstrap            static x86_64 musl binary (runs on every FC custom runtime:
#                             custom, custom.debian10/11/12, whatever their glibc)
#   dist/sg-remediator.zip    `bootstrap` at the zip root, mode 0755, byte-for-byte reproducible
#
# Needs: the rustup target x86_64-unknown-linux-musl, Debian's musl-tools (x86_64-linux-musl-gcc,
# for ring's C code) and python3; scripts/setup.sh, run first, installs them or stops with the
# command to run.
set -euo pipefail

readonly TARGET=x86_64-unknown-linux-musl

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

die() {
    echo "package.sh: $*" >&2
    exit 1
}

command -v cargo >/dev/null 2>&1 || die "cargo not found"
scripts/setup.sh

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
