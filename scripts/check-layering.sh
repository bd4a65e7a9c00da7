#!/usr/bin/env bash
# The layering rule the compiler cannot state by itself: nothing in crates/ (the foundations and
# the dev tools) may depend on the product, the root package `sg-remediator`, in any kind of
# dependency. `make lint` runs this; it prints the offenders and fails when there are any.
set -euo pipefail
cd "$(dirname "$0")/.."

dependents="$(cargo tree --workspace --offline -i sg-remediator -e normal,build,dev --depth 1 \
    --prefix none 2>/dev/null | tail -n +2 | sort -u)" || {
    echo "check-layering: cargo tree failed" >&2
    exit 1
}
if [[ -n "$dependents" ]]; then
    echo "check-layering: these depend on the product (the root package), which crates/ must never do:" >&2
    echo "$dependents" >&2
    exit 1
fi
echo "check-layering: nothing in crates/ depends on the product"
