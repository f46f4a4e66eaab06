#!/usr/bin/env bash
# Installs every Debian package GroupChat needs to build, test and run.
# Idempotent: does nothing (and needs no network) when all are present.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake ninja-build ccache pkg-config git
  # libraries
  libboost-dev libsodium-dev libzmq3-dev cppzmq-dev libyaml-cpp-dev nlohmann-json3-dev libpq-dev libssl-dev
  # media: images (libvips) and the S3 store (libcurl); libvips-tools makes test fixtures
  libvips-dev libcurl4-openssl-dev libvips-tools
  ca-certificates
  # tests
  googletest libgtest-dev libgmock-dev
  # embedded database server
  postgresql-15
  # tools used by tests and benchmarks
  curl wrk procps openssl
  # the SMTP server the email notification tests mail to
  python3-aiosmtpd
  # browser tests (tests/e2e): Debian's Chromium, driven by playwright-core
  chromium
  # fuzzing (fuzz/, `make fuzz`): libFuzzer needs clang; its sanitizer and
  # fuzzer runtimes are only a recommendation of clang-14, so named here
  clang-14 libfuzzer-14-dev libclang-rt-14-dev
)

missing=()
# Node.js and npm: a machine may already have its own (newer) build, which
# Debian's npm package would conflict with; install Debian's only if absent.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  missing+=(nodejs npm)
fi
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# npm ci in tests/DIR when DIR/node_modules/PACKAGE is missing or the lock
# file changed since the last install.
npm_ci_in() {
  local dir
  dir="$(cd "$(dirname "$0")/.." && pwd)/tests/$1"
  if [ ! -d "$dir/node_modules/$2" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    echo "deps: npm ci in tests/$1"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

npm_deps() {
  # playwright-core for the browser tests, exactly as locked; never downloads
  # a browser of its own (Debian's chromium is used).
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm_ci_in e2e playwright-core
  # s3rver and aws4 for the S3 media store's tests (tests/s3), as locked.
  npm_ci_in s3 s3rver
  # http_ece and web-push for the Web Push tests (tests/push), as locked.
  npm_ci_in push http_ece
}

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#PACKAGES[@]} packages present"
  npm_deps
  exit 0
fi

echo "deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "deps: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
npm_deps
echo "deps: done"
