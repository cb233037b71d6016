#!/usr/bin/env bash
# Installs the wasm-bindgen CLI at exactly the version of the wasm-bindgen crate in Cargo.lock
# (the two must match), unless it is there already. scripts/build.sh runs this in the
# background while cargo compiles the site and the server.
#
# It is built at opt-level 1 without LTO: binding the site's wasm takes about a second either
# way, and the install takes about half as long as with cargo's release defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
WB_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $WB_VERSION"; then
  exit 0
fi
printf '\n==> installing wasm-bindgen-cli %s (once)\n' "$WB_VERSION"
CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
  exec cargo install wasm-bindgen-cli --version "$WB_VERSION" --force
