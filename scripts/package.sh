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
#
# Options, for the packaging tests only (`make package` uses neither):
#   --profile NAME   cargo profile of the build (default: release, the shipped fat-LTO build).
#                    The tests check the zip's shape and the binary's static linkage, which do not
#                    depend on optimisation, so they build with the quick `package-check` profile.
#   --out DIR        where to write bootstrap and the zip (default: dist), so a check never
#                    overwrites a real package.
set -euo pipefail

readonly TARGET=x86_64-unknown-linux-musl

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

die() {
    echo "package.sh: $*" >&2
    exit 1
}

profile=release
out=dist
while (($# > 0)); do
    case "$1" in
    --profile) profile="${2:?--profile needs a name}"; shift 2 ;;
    --out) out="${2:?--out needs a directory}"; shift 2 ;;
    *) die "unknown argument: $1 (usage: package.sh [--profile NAME] [--out DIR])" ;;
    esac
done

command -v cargo >/dev/null 2>&1 || die "cargo not found"
scripts/setup.sh

# cc-rs (ring's build script) finds x86_64-linux-musl-gcc by itself for this target; no CC
# override, so this build shares its dependencies with a plain `cargo build --target $TARGET`.
# Without the default `cli` feature: the command line's own dependencies are not built.
cargo build --profile "$profile" --locked --target "$TARGET" --no-default-features --bin bootstrap

target_dir="${CARGO_TARGET_DIR:-$repo_root/target}"
binary="$target_dir/$TARGET/$profile/bootstrap"
[[ -f "$binary" ]] || die "build finished but $binary is missing"

mkdir -p "$out"
install -m 0755 "$binary" "$out/bootstrap"
rm -f "$out/sg-remediator.zip"
python3 scripts/make-zip.py "$out/bootstrap" "$out/sg-remediator.zip"

size_of() { stat -c %s "$1"; }
printf 'package.sh: %s/bootstrap          %10d bytes\n' "$out" "$(size_of "$out/bootstrap")"
printf 'package.sh: %s/sg-remediator.zip  %10d bytes\n' "$out" "$(size_of "$out/sg-remediator.zip")"
