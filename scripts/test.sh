#!/usr/bin/env bash
# The project's one test command (the README's, and what CI runs).
# On a fresh Debian machine with only Node 20 and npm: installs pnpm and the dependencies, installs etcd when
# it is missing (apt-get when root; otherwise stops with the exact command), builds, lints, checks the
# published shape of every package and runs every test against a real etcd.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib.sh
. scripts/lib.sh

check_node
ensure_pnpm
ensure_etcd

# The Go interop suite builds a helper against etcd's own Go naming packages (Debian ships their source).
# As root it is installed; otherwise that suite is skipped and says which packages to install.
if ! command -v go >/dev/null 2>&1 || [ ! -d /usr/share/gocode/src/go.etcd.io/etcd/clientv3/naming ]; then
  if [ "$(id -u)" = 0 ]; then
    step "installing Go and etcd's Go sources for the interop suite"
    need_root_or_say golang-go golang-etcd-server-dev golang-google-grpc-dev
  else
    echo "note: the Go interop suite will be skipped; to run it: sudo apt-get install -y golang-go golang-etcd-server-dev golang-google-grpc-dev"
  fi
fi

step "pnpm install"
pnpm install --frozen-lockfile --reporter=append-only

step "build"
pnpm build --output-logs=errors-only

step "typecheck"
pnpm typecheck --output-logs=errors-only

step "lint and format (biome)"
pnpm exec biome ci .

step "package shape (publint, attw)"
pnpm check:packages --output-logs=errors-only

step "tests"
before=$(pgrep -x etcd | sort || true)
mkdir -p .tmp
set +e
pnpm exec vitest run --reporter=default --reporter=json --outputFile.json=.tmp/vitest-results.json
status=$?
set -e
after=$(pgrep -x etcd | sort || true)
orphans=$(comm -13 <(echo "$before") <(echo "$after") | grep -v '^$' || true)
if [ -n "$orphans" ]; then
  echo "error: the test run left etcd processes behind: $orphans" >&2
  ps -o pid,args -p $(echo $orphans | tr ' ' ',') >&2 || true
  kill -9 $orphans 2>/dev/null || true
  status=1
fi

# Benchmarks report figures and never fail on a missed target; the quick run only proves the harness works.
step "benchmark harness (pnpm bench --quick)"
if ! pnpm bench --quick; then
  echo "error: the benchmark harness failed" >&2
  status=1
fi

node -e '
  const r = JSON.parse(require("fs").readFileSync(".tmp/vitest-results.json", "utf8"));
  console.log(`\ntests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' || true
exit "$status"
