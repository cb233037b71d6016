#!/usr/bin/env bash
# Builds what `cargo leptos build` builds, with tools the project needs anyway (cargo,
# wasm-bindgen, and wasm-opt for release), so that a fresh machine does not spend 13
# minutes installing cargo-leptos. `cargo leptos watch` still works for those who have it
# (the workspace keeps its `[[workspace.metadata.leptos]]`).
#
#   scripts/build.sh            target/debug/memberpulse and target/site (debug wasm)
#   scripts/build.sh --release  target/release/memberpulse and target/site (optimised wasm)
#
# The site is:
#   target/site/pkg/memberpulse.js, memberpulse.wasm   the app crate with `hydrate`, bound by wasm-bindgen
#   target/site/pkg/memberpulse.css                    style/main.css
#   target/site/…                                      public/ (favicon, vendor/echarts.min.js)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
# The server renders `<script>` tags naming the files by this name (leptos_config reads it
# when it compiles); every cargo call of the project sets it, so the crates build once.
export LEPTOS_OUTPUT_NAME=memberpulse

release=false
[[ "${1:-}" == "--release" ]] && release=true
if $release; then
  server_profile=release server_dir=release wasm_profile=wasm-release wasm_dir=wasm-release
else
  server_profile=dev server_dir=debug wasm_profile=dev wasm_dir=debug
fi
site=target/site
step() { printf '\n==> %s\n' "$*"; }

# The wasm-bindgen CLI, if missing, compiles in the background meanwhile (its own target dir,
# so no lock is shared with the builds below); it is waited for just before binding.
wb_log=target/wasm-bindgen-install.log
mkdir -p target
scripts/wasm-bindgen.sh >"$wb_log" 2>&1 &
wb_pid=$!
# If a build below fails or is interrupted, the install stops with it.
trap 'kill "$wb_pid" 2>/dev/null || true' EXIT
trap 'exit 130' INT TERM

step "building the browser side (app, hydrate) for wasm32 [$wasm_profile]"
cargo build --package app --lib --target wasm32-unknown-unknown \
  --no-default-features --features hydrate --profile "$wasm_profile"

step "building the server (memberpulse) [$server_profile]"
cargo build --package server --bin memberpulse --profile "$server_profile"

step "binding the browser side (wasm-bindgen)"
if ! wait "$wb_pid"; then
  cat "$wb_log" >&2
  echo "installing wasm-bindgen-cli failed (log above, also in $wb_log)" >&2
  exit 1
fi
trap - EXIT INT TERM
grep -h '^==>\|Installed\|Finished' "$wb_log" || true
rm -rf "$site/pkg"
mkdir -p "$site/pkg"
wasm-bindgen --target web --no-typescript --out-dir "$site/pkg" --out-name memberpulse \
  "target/wasm32-unknown-unknown/$wasm_dir/app.wasm"
# leptos asks for `<name>.wasm` when LEPTOS_OUTPUT_NAME is set (as cargo-leptos names it).
mv "$site/pkg/memberpulse_bg.wasm" "$site/pkg/memberpulse.wasm"
if $release; then
  step "optimising the wasm (wasm-opt -Oz)"
  # The features rustc's wasm32 target turns on (reference types: wasm-bindgen's externref
  # table); binaryen from npm (scripts/setup.sh --release).
  if [[ ! -x target/binaryen/node_modules/.bin/wasm-opt ]]; then
    echo "no wasm-opt in target/binaryen: run scripts/setup.sh --release (make release does)" >&2
    exit 1
  fi
  target/binaryen/node_modules/.bin/wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
    --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
    -o "$site/pkg/memberpulse.wasm" "$site/pkg/memberpulse.wasm"
fi

step "copying the stylesheet and the assets"
cp style/main.css "$site/pkg/memberpulse.css"
if [[ -d public ]]; then
  cp -R public/. "$site/"
fi

ls -l "target/$server_dir/memberpulse" "$site/pkg"
