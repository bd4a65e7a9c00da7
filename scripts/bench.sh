#!/usr/bin/env bash
# `make bench`: build the release binary (and the FC package when scripts/package.sh exists),
# run the criterion CPU benches and the bench driver, print the table and write
# target/bench/results.json (machine, commit, date, every figure with its target).
#
# Figures and how each is measured: docs/performance.md. Nothing here needs a cloud account: the
# function meets the in-process emulator. Exits non-zero only when a step fails to run;
# set BENCH_STRICT=1 to also fail when a target is missed.
#
# The "under 0.1 CPU" figure puts bootstrap in a CPU cgroup of its own (cgroup v2 cpu.max, or v1
# cpu.cfs_quota_us), created and removed by the driver; it needs write access to
# /sys/fs/cgroup (root). Without it the figure is derived from CPU time and says so.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

readonly MUSL_TARGET=x86_64-unknown-linux-musl
notes=()

step() { printf '\n== %s\n' "$*" >&2; }

step "release build of bootstrap"
cargo build --release --locked --bin bootstrap
# Measure a copy: `cargo bench` and `cargo run --example` rebuild target/release/bootstrap with
# the dev-dependencies' features unified in, which is not the binary that ships.
mkdir -p target/bench
cp target/release/bootstrap target/bench/bootstrap

static_bin=""
if [[ -f scripts/package.sh ]]; then
    step "FC package (scripts/package.sh)"
    bash scripts/package.sh
    static_bin="dist/bootstrap"
elif rustup target list --installed 2>/dev/null | grep -qx "$MUSL_TARGET" \
    && command -v x86_64-linux-musl-gcc >/dev/null 2>&1; then
    step "static musl build (scripts/package.sh is absent: no zip)"
    cargo build --release --locked --target "$MUSL_TARGET" --bin bootstrap
    static_bin="target/$MUSL_TARGET/release/bootstrap"
    notes+=("scripts/package.sh is absent: static binary built directly, zip size not measured")
else
    notes+=("no static build: scripts/package.sh is absent and the $MUSL_TARGET target or x86_64-linux-musl-gcc is missing; static binary and zip sizes not measured")
fi

step "criterion CPU benches (cargo bench --bench cpu)"
cargo bench --locked --bench cpu

# Not a target: what one RPC call costs the caller's CPU over loopback, with a blocking socket
# (the kernel's floor), through hyper's own connection, and through our client. With
# serde_json's floors from the criterion run it bounds what any per-group CPU target can ask of
# the process; the driver reads the rounds back (docs/performance.md).
step "transport floor (cargo run --release -p acs-openapi --example transport_floor)"
rm -f target/bench/transport_floor.json
TRANSPORT_FLOOR_JSON="target/bench/transport_floor.json" \
    cargo run --locked --release -p acs-openapi --example transport_floor >&2

step "bench driver (cargo run --release --example bench)"
BENCH_BOOTSTRAP="target/bench/bootstrap" \
BENCH_STATIC_BOOTSTRAP="$static_bin" \
BENCH_NOTES="$(printf '%s\n' "${notes[@]+"${notes[@]}"}")" \
    cargo run --locked --release --example bench
