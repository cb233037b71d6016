#!/usr/bin/env bash
# Installs what building and testing MemberPulse needs, skipping what is already there.
# Safe to run again: every step checks first.
#   scripts/setup.sh          build tools (the wasm target) and the npm
#                             packages: DuckDB's release library, Apache ECharts
#   scripts/setup.sh --release  also wasm-opt (binaryen from npm), for `make release`
#   scripts/setup.sh --test   also Chromium, the end2end npm packages, the Python
#                             reference for the model tests (lifetimes, in target/pyenv)
#                             and the API fuzzer (schemathesis, in target/fuzzenv);
#                             rustfmt and clippy if rustup's profile left them out
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

step() { printf '\n==> %s\n' "$*"; }

# /dev/null must be the null device. Some sandboxes boot with a regular file there: every
# "discard" is then kept, and cargo's `rustc -` probe reads it back as source ("failed to
# run `rustc` to learn about target-specific information … unknown start of token").
if [[ ! -c /dev/null ]]; then
  if [[ $(id -u) -eq 0 ]] && rm -f /dev/null && mknod -m 0666 /dev/null c 1 3; then
    step "/dev/null was a regular file: made it the null device again"
  else
    echo "/dev/null is not the null device; as root: rm /dev/null && mknod -m 0666 /dev/null c 1 3" >&2
    exit 1
  fi
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# The wasm-bindgen CLI (exactly the Cargo.lock version) is installed by scripts/wasm-bindgen.sh,
# which scripts/build.sh starts in the background so that its compile overlaps the site's and
# the server's (on 2 cores that saves about two minutes of a first `make run`).
# npm (Debian's) for the site's and the browser tests' packages.
need_npm() {
  if ! command -v npm >/dev/null 2>&1; then
    step "installing Node.js and npm from Debian"
    if [[ $(id -u) -eq 0 ]]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q nodejs npm
  fi
}

# From npm (package.json): DuckDB's official release library (libduckdb.so, which the
# server links; .cargo/config.toml points cargo at it) and Apache ECharts (served by the
# site from public/vendor).
DUCKDB_LIB=node_modules/@duckdb/node-bindings-linux-x64/libduckdb.so
if [[ ! -f node_modules/echarts/dist/echarts.min.js ]] || { [[ ! -f $DUCKDB_LIB ]] && [[ $(uname -sm) == "Linux x86_64" ]]; }; then
  need_npm
  step "installing the npm packages (DuckDB's library, Apache ECharts)"
  npm ci --no-audit --no-fund
fi
if [[ ! -f $DUCKDB_LIB ]]; then
  echo "No prebuilt DuckDB library for $(uname -sm): build with 'cargo build --features server/bundled'" >&2
  echo "(compiles DuckDB from source, about 25 minutes on 2 cores); see docs/operations.md." >&2
fi
mkdir -p public/vendor
cp -u node_modules/echarts/dist/echarts.min.js public/vendor/

WASM_OPT=target/binaryen/node_modules/.bin/wasm-opt
if [[ "${1:-}" == "--release" ]] && ! { [[ -x $WASM_OPT ]] && "$WASM_OPT" --version | grep -q "version 132"; }; then
  # The optimiser of the release site's wasm: binaryen from npm, pinned, into target/ (104
  # MB, so not in package.json). Debian's binaryen 108 breaks the wasm: it mangles the
  # externref table wasm-bindgen's glue fills, and the page never hydrates.
  need_npm
  step "installing wasm-opt (binaryen 132 from npm)"
  npm install --prefix target/binaryen --no-save --no-audit --no-fund binaryen@132.0.0
fi

if [[ "${1:-}" == "--test" ]]; then
  # `make test` checks the format and the lints first (rustup's default profile has both).
  for tool in rustfmt clippy; do
    if ! cargo "${tool/rustfmt/fmt}" --version >/dev/null 2>&1; then
      step "adding rustup's $tool component"
      rustup component add "$tool"
    fi
  done
  # Chromium, and a CJK font so that screenshots show the Chinese labels.
  if [[ ! -x /usr/bin/chromium ]] || ! dpkg -s fonts-wqy-zenhei >/dev/null 2>&1; then
    step "installing Chromium and a CJK font from Debian"
    if [[ $(id -u) -eq 0 ]]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium fonts-wqy-zenhei
  fi
  # The model tests compare with the Python package `lifetimes` (PyPI), in its own venv.
  if [[ ! -x target/pyenv/bin/python ]] || ! target/pyenv/bin/python -c "import lifetimes" 2>/dev/null; then
    step "installing the Python reference for the model tests (lifetimes, from PyPI)"
    if ! python3 -m venv --help >/dev/null 2>&1; then
      if [[ $(id -u) -eq 0 ]]; then SUDO=""; else SUDO="sudo"; fi
      $SUDO apt-get update -q
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q python3 python3-venv
    fi
    rm -rf target/pyenv
    python3 -m venv target/pyenv
    target/pyenv/bin/pip install -q lifetimes==0.11.3
  fi
  # The API fuzzer (scripts/fuzz-api.sh): schemathesis 4 from PyPI, in its own venv.
  if ! target/fuzzenv/bin/schemathesis --version 2>/dev/null | grep -q "version 4\."; then
    step "installing the API fuzzer (schemathesis 4, from PyPI)"
    rm -rf target/fuzzenv
    python3 -m venv target/fuzzenv
    target/fuzzenv/bin/pip install -q "schemathesis>=4,<5"
  fi
  if [[ ! -d end2end/node_modules/playwright-core ]]; then
    need_npm
    step "installing the end2end npm packages"
    (cd end2end && npm ci --no-audit --no-fund)
  fi
fi
