#!/usr/bin/env bash
# Runs every benchmark in bench/ (see bench/RESULTS.md for the latest figures).
set -euo pipefail
cd "$(dirname "$0")/.."
bash bench/http_bench.sh "${DURATION:-10}" "${CONNS:-50}" 1
