#!/usr/bin/env bash
# The long fuzz run on one etcd: every file of the fuzz suite at once, one vitest process each, the
# properties of a file sharing the run's minutes between them (a file runs its properties one after
# another). Prints one line a property (runs, seconds, verdict) and exits 1 if any property failed.
#
#   ETCD_BIN=/path/to/etcd bash scripts/fuzz-long.sh [minutes]     # default 30
#
# FUZZ_SEED picks the seed of every property (default: a fresh one, printed, so the run can be replayed);
# logs and the per-file reports land in fuzz/results/ (gitignored).
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=${1:-30}
if ! [[ $minutes =~ ^[0-9]+$ ]] || ((minutes < 1 || minutes > 1440)); then
	echo "error: minutes must be a whole number from 1 to 1440, got '$minutes'" >&2
	exit 2
fi
etcd=${ETCD_BIN:-etcd}
if ! version=$("$etcd" --version 2>/dev/null | sed -n 's/^etcd Version: //p') || [[ -z $version ]]; then
	echo "error: no etcd at '$etcd': set ETCD_BIN to an etcd binary (bash scripts/fetch-etcd.sh fetches them)" >&2
	exit 2
fi
seed=${FUZZ_SEED:-$((RANDOM * 32768 + RANDOM))}
results=fuzz/results
mkdir -p "$results"

# Each file gets the whole run; a property gets its file's share, less a margin for start-up, the wait
# for a run still under way when its time is up, and shrinking.
margin=90
pids=()
files=()
for file in fuzz/src/*.fuzz.test.ts; do
	name=$(basename "$file" .fuzz.test.ts)
	properties=$(grep -cE '^it\(' "$file") # one property a test
	seconds=$(((minutes * 60 - margin) / properties))
	((seconds >= 5)) || seconds=5
	rm -f "$results/$name.json"
	FUZZ_SEED=$seed FUZZ_SECONDS=$seconds ETCD_BIN=$etcd \
		pnpm exec vitest run --project fuzz "src/$name.fuzz.test.ts" >"$results/long-$name.log" 2>&1 &
	pids+=($!)
	files+=("$name")
	echo "fuzz-long: $name: $properties properties, ${seconds} s each"
done
echo "fuzz-long: etcd $version, seed $seed, ${minutes} min, started $(date -u +%H:%M:%S) UTC"

failed=0
for i in "${!pids[@]}"; do
	if ! wait "${pids[$i]}"; then
		failed=1
		echo "fuzz-long: ${files[$i]} failed; see $results/long-${files[$i]}.log"
	fi
done

node -e '
const fs = require("node:fs");
let runs = 0;
for (const name of process.argv.slice(1)) {
  const path = `fuzz/results/${name}.json`;
  if (!fs.existsSync(path)) { console.log(`fuzz-long: ${name}: no report`); continue; }
  for (const r of JSON.parse(fs.readFileSync(path, "utf8")).reports) {
    runs += r.runs;
    const counts = Object.entries(r.counts).map(([k, v]) => `${k} ${v}`).join(", ");
    console.log(`fuzz-long: ${name} / ${r.property}: ${r.runs} runs in ${Math.round(r.ms / 1000)} s, ${r.failed ? "FAILED" : "passed"}${counts ? ` (${counts})` : ""}`);
  }
}
console.log(`fuzz-long: ${runs} runs in all`);
' "${files[@]}"
echo "fuzz-long: etcd $version, seed $seed: $([[ $failed == 0 ]] && echo "nothing found" || echo "FAILURES (logs in $results)")"
exit $failed
