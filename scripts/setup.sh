#!/usr/bin/env bash
# The one list of what building, linting, testing and packaging need beyond rustup and a stable
# toolchain; `make test`, `make lint`, `scripts/package.sh` and `.ci/run` all run this first.
#
#   x86_64-linux-musl-gcc   Debian's musl-tools: ring (via rustls) compiles C for the static build
#   python3                 scripts/make-zip.py writes the reproducible FC code zip
#   x86_64-unknown-linux-musl   rustup target of the FC binary (scripts/package.sh)
#   rustfmt, clippy         rustup components used by `make lint`
#
# Idempotent: what is present is left alone; a run that finds everything prints one line,
# "setup: everything present", and changes nothing. Debian packages are installed with apt-get as
# root, or through sudo when not root (a sudo that needs no password, or that has a terminal to ask
# for one). When something cannot be installed here (no apt-get, not root and no usable sudo, no
# rustup), it changes nothing and stops with exit 1 and one line on stderr naming the exact command
# to run.
#
# Test hooks (tests/setup.rs drives every branch with stand-ins, whoever runs it):
# SETUP_MUSL_GCC, SETUP_PYTHON3 (commands looked for), SETUP_APT_GET, SETUP_APT_CACHE, SETUP_SUDO,
# SETUP_RUSTUP (commands used), SETUP_UID (the effective user id).
set -euo pipefail

readonly TARGET=x86_64-unknown-linux-musl
readonly COMPONENTS=(rustfmt clippy)
musl_gcc="${SETUP_MUSL_GCC:-x86_64-linux-musl-gcc}"
python3="${SETUP_PYTHON3:-python3}"
apt_get="${SETUP_APT_GET:-apt-get}"
apt_cache="${SETUP_APT_CACHE:-apt-cache}"
sudo="${SETUP_SUDO:-sudo}"
rustup="${SETUP_RUSTUP:-rustup}"
uid="${SETUP_UID:-$(id -u)}"

say() { echo "setup: $*"; }
# The one line a user sees when this machine needs a hand: the exact command, then stop.
stop() {
    echo "setup: $1; run: $2" >&2
    exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

# Debian packages first: when they are missing and cannot be installed, stop before any change.
packages=()
have "$musl_gcc" || packages+=(musl-tools)
have "$python3" || packages+=(python3)
as_root=()
if ((${#packages[@]} > 0)); then
    wanted="${packages[*]}"
    have "$apt_get" || stop "missing ${wanted} and no apt-get here" \
        "install the equivalent of Debian's ${wanted} with your package manager"
    if [[ "$uid" != "0" ]]; then
        # sudo counts when it needs no password, or when there is a terminal to ask for one
        # (under `cargo test` or CI there is none: stop rather than hang or fail half-way).
        if ! have "$sudo" || { [[ ! -t 0 ]] && ! "$sudo" -n true 2>/dev/null; }; then
            stop "missing ${wanted}, not root and no sudo" \
                "su -c 'apt-get update && apt-get install -y --no-install-recommends ${wanted}'"
        fi
        as_root=("$sudo")
    fi
fi

have "$rustup" || stop "rustup not found (the toolchain manager this project builds with)" \
    "curl --proto '=https' -sSf https://sh.rustup.rs | sh"
installed_targets="$("$rustup" target list --installed)"
installed_components="$("$rustup" component list --installed)"
need_target=0
grep -qx "$TARGET" <<<"$installed_targets" || need_target=1
components=()
for component in "${COMPONENTS[@]}"; do
    grep -q "^${component}-" <<<"$installed_components" || components+=("$component")
done

if ((${#packages[@]} == 0 && need_target == 0 && ${#components[@]} == 0)); then
    echo "setup: everything present (musl-tools, python3, rustup target $TARGET, ${COMPONENTS[*]})"
    exit 0
fi

if ((${#packages[@]} > 0)); then
    run_as_root="${as_root[*]:+sudo }" # as the user would type it
    say "installing ${wanted} with ${run_as_root}apt-get"
    export DEBIAN_FRONTEND=noninteractive
    # A fresh machine may have empty package lists: update only when apt knows no candidate.
    for package in "${packages[@]}"; do
        if ! "$apt_cache" policy "$package" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
            "${as_root[@]}" "$apt_get" update -qq ||
                stop "apt-get update failed" "${run_as_root}apt-get update"
            break
        fi
    done
    "${as_root[@]}" "$apt_get" install -y -qq --no-install-recommends "${packages[@]}" >/dev/null ||
        stop "apt-get could not install ${wanted}" \
            "${run_as_root}apt-get install -y --no-install-recommends ${wanted}"
    have "$musl_gcc" || stop "musl-tools installed but $musl_gcc is still not on PATH" \
        "dpkg -L musl-tools | grep bin/"
    have "$python3" || stop "python3 installed but still not on PATH" "dpkg -L python3 | grep bin/"
fi

if ((need_target)); then
    say "adding rustup target $TARGET"
    "$rustup" target add "$TARGET" >/dev/null || stop "rustup could not add $TARGET" \
        "rustup target add $TARGET"
fi
for component in "${components[@]}"; do
    say "adding rustup component $component"
    "$rustup" component add "$component" >/dev/null || stop "rustup could not add $component" \
        "rustup component add $component"
done
say "done; the next run will find everything present"
