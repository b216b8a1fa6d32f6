# Shared set-up steps of scripts/test.sh and scripts/demo.sh (sourced, not run). On a fresh Debian machine
# with only Node and npm, they install what is missing: pnpm with npm, etcd with apt-get when root
# (otherwise they stop and print the exact command to run).

export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1 TURBO_NO_UPDATE_NOTIFIER=1
PNPM_VERSION=10.34.9

step() { printf '\n==> %s\n' "$*"; }

need_root_or_say() { # $@: the apt packages
  if [ "$(id -u)" = 0 ]; then
    if [ -z "${APT_UPDATED:-}" ]; then apt-get update -qq; APT_UPDATED=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "error: missing $*. Install it with:  sudo apt-get install -y $*" >&2
    exit 1
  fi
}

check_node() {
  step "node $(node --version)"
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a<20||(a===20&&b<19)) { console.error("error: Node >= 20.19 is required, found "+process.version); process.exit(1) }'
}

ensure_pnpm() {
  if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version)" != "$PNPM_VERSION" ]; then
    step "installing pnpm $PNPM_VERSION"
    npm install -g "pnpm@$PNPM_VERSION" --no-fund --no-audit >/dev/null
  fi
}

ensure_etcd() {
  if ! command -v etcd >/dev/null 2>&1 || ! command -v etcdctl >/dev/null 2>&1; then
    step "installing etcd (Debian etcd-server, etcd-client)"
    need_root_or_say etcd-server etcd-client
  fi
  step "$(etcd --version | head -1)"
}
