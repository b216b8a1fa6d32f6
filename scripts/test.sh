#!/usr/bin/env bash
# The project's one test command (the README's, and what CI runs).
# On a fresh Debian machine with only Node and npm: fetches Node 24 from npm when the machine's is older than
# 22.12 (and says so), installs pnpm and the dependencies, installs etcd when it is missing (apt-get when root;
# otherwise stops with the exact command), fetches the rest of the test matrix into the cache folder (etcd
# 3.5.16 and 3.5.30 from Debian's packages; Node 22, 24 and 26, Bun and Deno from npm), builds, lints, checks
# the published shape of every package, rehearses a release (`pnpm release --dry-run`) and runs the tests:
#   - every test on etcd 3.5.30 with Node 24;
#   - the public packages (codec, etcd, watcher, grpc-js, registrar, cli, undici, connect) and the examples on etcd 3.4.23
#     with Node 22 and on etcd 3.5.16 with Node 26; the cli's TLS tests (TLS and mutual TLS with a user to
#     https://127.0.0.1, which Node 26 refuses as a TLS server name unless the CLI leaves it out) run there
#     too, while the security suite, whose library clients address etcd by IP, runs on Node 24 only;
#   - a smoke test of the packed packages on Bun and Deno (scripts/runtime-smoke), the Connect transport and
#     HTTP requests through the undici dispatcher included.
# Each run prints `tests (etcd X, node vY): …`; the last line is the sum, `tests: N passed, N failed, N skipped`.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

# shellcheck source=scripts/lib.sh
. scripts/lib.sh

timings=()
phase_started=$SECONDS
phase_done() { # records how long the step since the previous phase_done took
  timings+=("$1: $((SECONDS - phase_started)) s")
  phase_started=$SECONDS
}

ensure_node
ensure_pnpm
ensure_etcd
ensure_etcd_versions
for major in "${NODE_MAJORS[@]}"; do fetch_node "$major"; done
ensure_bun_and_deno
phase_done "toolchains (node, pnpm, etcd versions, bun, deno)"

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
# Its second flavour: Go 1.27 and etcd 3.5.30's Go sources from Debian unstable, unpacked into the cache (no root).
ensure_go_etcd35

step "pnpm install"
pnpm install --frozen-lockfile --reporter=append-only
phase_done "pnpm install"

step "build"
pnpm build --output-logs=errors-only
phase_done "build"

step "typecheck"
pnpm typecheck --output-logs=errors-only
phase_done "typecheck"

step "lint and format (biome)"
pnpm exec biome ci .
phase_done "biome"

step "package shape (publint, attw)"
pnpm check:packages --output-logs=errors-only
phase_done "package shape"

step "release dry run (what pnpm release would publish; nothing is sent)"
pnpm --silent release --dry-run
phase_done "release dry run"

# The etcd binary of a release: the cache folder's, else the system's when it is that release (3.4.23).
etcd_for() {
  local bin
  for bin in "$(etcd_bin_of "$1")" "$(command -v etcd || true)"; do
    if [ -n "$bin" ] && [ "$("$bin" --version 2>/dev/null | awk '/^etcd Version:/ { print $3 }')" = "$1" ]; then
      echo "$bin"
      return 0
    fi
  done
  echo "error: no etcd $1 (looked at $(etcd_bin_of "$1") and $(command -v etcd || echo 'etcd on PATH'))" >&2
  return 1
}

mkdir -p .tmp
rm -f .tmp/result-*

# run_tests NAME ETCD_VERSION NODE_MAJOR [--project=NAME...]: one vitest run with that etcd as the shared and
# default etcd (ETCD_BIN) and that Node first on PATH, so vitest, its workers and every process the tests
# spawn (the CLI through its shebang, the examples through process.execPath) run on it. It prints its
# summary line and writes its outcome to .tmp/result-NAME for `collect` (it may run in the background).
run_tests() {
  local name=$1 etcd_version=$2 major=$3 bin node_dir node_version json counts run_status orphans run_id pid failures
  local run_started=$SECONDS result=.tmp/result-$1 p f s
  shift 3
  if ! bin=$(etcd_for "$etcd_version"); then
    printf 'status 1\ncounts 0 1 0\nsummary tests (etcd %s): 0 passed, 1 failed, 0 skipped\n' "$etcd_version" >"$result"
    return
  fi
  node_dir=$(node_dir_of "$major")
  node_version=$("$node_dir/node" --version)
  json=.tmp/vitest-etcd-$etcd_version-node-$major.json
  rm -f "$json"
  step "tests on etcd $etcd_version ($bin), Node $node_version: ${*:-every project}"
  # Every etcd the tests start inherits this marker (the fixture passes its environment on, less ETCD_*), so
  # one left behind is recognised as this run's; other etcd processes on the machine are none of its business.
  run_id="$$-$RANDOM-$etcd_version-$major"
  set +e
  PATH="$node_dir:$PATH" ETCD_BIN=$bin NAMING_TEST_RUN=$run_id pnpm exec vitest run --reporter=default \
    --reporter=json --outputFile.json="$json" "$@"
  run_status=$?
  set -e
  orphans=""
  for pid in $(pgrep -x etcd || true); do
    if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "NAMING_TEST_RUN=$run_id"; then
      orphans="$orphans $pid"
    fi
  done
  if [ -n "$orphans" ]; then
    echo "error: the test run left etcd processes behind:$orphans" >&2
    ps -o pid,args -p "$(echo $orphans | tr ' ' ',')" >&2 || true
    kill -9 $orphans 2>/dev/null || true
    run_status=1
  fi
  if [ -f "$json" ]; then
    counts=$(node -e '
      const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      console.log(r.numPassedTests, r.numFailedTests, r.numPendingTests + r.numTodoTests);
    ' "$json")
  else
    counts="0 1 0" # vitest died before writing its report: count the run as one failure
  fi
  read -r p f s <<<"$counts"
  if [ "$run_status" != 0 ] && [ "$f" = 0 ]; then f=1; fi # a failed suite (beforeAll, import) has no failed test
  failures=""
  if [ -f "$json" ]; then
    # The failed tests and suites by name, with the first line of their error, for the summary at the end.
    failures=$(node -e '
      const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      const first = (m) => String(m ?? "").split("\n").find((l) => l.trim() !== "")?.trim().slice(0, 200) ?? "";
      for (const file of r.testResults) {
        const where = require("path").relative(process.cwd(), file.name);
        const failed = file.assertionResults.filter((a) => a.status === "failed");
        for (const a of failed) console.log(`${where} > ${a.fullName}: ${first(a.failureMessages?.[0])}`);
        if (failed.length === 0 && file.status === "failed") console.log(`${where}: ${first(file.message)}`);
      }
    ' "$json")
  fi
  echo "tests (etcd $etcd_version, node $node_version): $p passed, $f failed, $s skipped"
  {
    echo "status $run_status"
    echo "counts $p $f $s"
    echo "summary tests (etcd $etcd_version, node $node_version): $p passed, $f failed, $s skipped"
    echo "took etcd $etcd_version + node $node_version: $((SECONDS - run_started)) s"
    if [ -n "$failures" ]; then sed "s/^/failure (etcd $etcd_version, node $node_version): /" <<<"$failures"; fi
  } >"$result"
}

# run_smoke: the Bun and Deno smoke test of the packed packages on etcd 3.5.30; writes .tmp/result-smoke.
run_smoke() {
  local smoke_started=$SECONDS smoke_status p=0 f=1 s=0
  step "Bun and Deno smoke test (packed packages, etcd 3.5.30)"
  rm -f .tmp/runtime-smoke.json
  set +e
  ETCD_BIN=$(etcd_for 3.5.30) SMOKE_BUN=$(bun_bin) SMOKE_DENO=$(deno_bin) \
    node scripts/runtime-smoke/run.mjs --summary .tmp/runtime-smoke.json >.tmp/runtime-smoke.log 2>&1
  smoke_status=$?
  set -e
  cat .tmp/runtime-smoke.log
  if [ -f .tmp/runtime-smoke.json ]; then
    read -r p f s < <(node -p 'const r = require("./.tmp/runtime-smoke.json"); `${r.passed} ${r.failed} ${r.skipped}`')
  fi
  if [ "$smoke_status" != 0 ] && [ "$f" = 0 ]; then f=1; fi
  {
    echo "status $smoke_status"
    echo "counts $p $f $s"
    grep '^tests (' .tmp/runtime-smoke.log | sed 's/^/summary /' || true
    echo "took bun + deno smoke: $((SECONDS - smoke_started)) s"
  } >.tmp/result-smoke
}

status=0
passed=0 failed=0 skipped=0
summaries=()
failures=()

# collect NAME: adds a run's outcome (.tmp/result-NAME) to the totals; a run that wrote none failed.
collect() {
  local file=.tmp/result-$1 key rest
  if [ ! -f "$file" ]; then
    status=1 failed=$((failed + 1))
    summaries+=("tests ($1): no result, the run died")
    return
  fi
  while read -r key rest; do
    case $key in
      status) [ "$rest" = 0 ] || status=1 ;;
      counts)
        read -r p f s <<<"$rest"
        passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
        ;;
      summary) summaries+=("$rest") ;;
      took) timings+=("$rest") ;;
      failure) failures+=("$rest") ;;
    esac
  done <"$file"
}

public=(--project=codec --project=etcd --project=watcher --project=grpc-js --project=registrar --project=cli --project=undici --project=connect)
for dir in examples/*/; do public+=("--project=$(basename "$dir")"); done

# The fuzz suite's short run takes one fixed seed here, so a test run gives the same verdict twice; fresh
# seeds and the long runs are on demand (docs/reliability.md).
export FUZZ_SEED=${FUZZ_SEED:-20261127}
run_tests full 3.5.30 "$NODE_DEFAULT_MAJOR"
collect full

# The public packages' runs and the smoke test wait on etcd and child processes far more than they compute,
# so they run side by side (each with its own etcd on its own ports); their output follows in turn.
step "tests on etcd 3.4.23 + Node 22 and etcd 3.5.16 + Node 26 (public packages and examples), and the Bun and Deno smoke test, side by side"
run_tests node22 3.4.23 22 "${public[@]}" >.tmp/run-node22.log 2>&1 &
run_tests node26 3.5.16 26 "${public[@]}" >.tmp/run-node26.log 2>&1 &
run_smoke >.tmp/run-smoke.log 2>&1 &
wait
for name in node22 node26 smoke; do
  cat ".tmp/run-$name.log"
  collect "$name"
done

# Benchmarks report figures and never fail on a missed target; the quick run only proves the harness works.
step "benchmark harness (pnpm bench --quick)"
phase_started=$SECONDS
if ! pnpm bench --quick; then
  echo "error: the benchmark harness failed" >&2
  status=1
fi
phase_done "benchmark harness"

step "summary"
printf 'took %s\n' "${timings[@]}" "everything: $((SECONDS - started)) s"
echo
printf '%s\n' "${summaries[@]}"
if [ "${#failures[@]}" -gt 0 ]; then
  echo
  printf 'failed %s\n' "${failures[@]:0:30}"
  if [ "${#failures[@]}" -gt 30 ]; then echo "… and $((${#failures[@]} - 30)) more failures"; fi
fi
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit "$status"
