#!/usr/bin/env bash
# Fetches the etcd releases the test matrix needs beside the system's 3.4.23 (Debian etcd-server from trixie
# and unstable, through this machine's own Debian mirror) into ${ETCD_NAMING_CACHE:-~/.cache/etcd-naming}/
# etcd-<version>/usr/bin/etcd, where the fixture's startEtcd({ version }) finds them. Needs no root.
#   bash scripts/fetch-etcd.sh            # every version
#   bash scripts/fetch-etcd.sh 3.5.30     # just these
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib.sh
. scripts/lib.sh

ensure_etcd_versions "$@"
