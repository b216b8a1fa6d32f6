#!/usr/bin/env bash
# Fetches the JavaScript runtimes the test matrix runs on, from their npm packages, into
# ${ETCD_NAMING_CACHE:-~/.cache/etcd-naming}/: node-22, node-24 and node-26 (node-linux-<arch>), bun-1
# (@oven/bun-linux-<arch>) and deno-2 (@deno/linux-<arch>-glibc). Already fetched ones are kept.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib.sh
. scripts/lib.sh

for major in "${NODE_MAJORS[@]}"; do
  fetch_node "$major"
  step "node $("$(node_dir_of "$major")/node" --version): $(node_dir_of "$major")/node"
done
ensure_bun_and_deno
