#!/usr/bin/env bash
# The project's demo command (the README's first): etcd naming end to end in one command.
# On a fresh Debian machine with only Node and npm: fetches Node 24 from npm when the machine's is older than
# 22.12 (and says so), installs pnpm and the dependencies, installs etcd when it is missing (apt-get when root;
# otherwise stops with the exact command), builds, and runs the demo.
# The demo uses the etcd at $ETCD_ENDPOINTS when set, otherwise starts its own and removes it at the end.
# Arguments go to the demo: bash scripts/demo.sh --help
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib.sh
. scripts/lib.sh

ensure_node
ensure_pnpm
if [ -z "${ETCD_ENDPOINTS:-}" ]; then
  ensure_etcd
fi

step "pnpm install"
pnpm install --frozen-lockfile --reporter=append-only

step "build"
pnpm build --output-logs=errors-only

step "demo"
exec pnpm --silent --filter demo start "$@"
