// Numeric flags of the CLI at and beyond their limits: --dial-timeout and --command-timeout (and their
// ETCDCTL_* variables), --ttl. A value is either a usage error (exit 2 naming the flag) or accepted and
// honoured — a huge timeout must not fail at once with a nonsense deadline, a huge TTL must not make the
// lease flap. In process, against the shared etcd.
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import fc from "fast-check";
import { it } from "vitest";
import { TTLS as TTL_VALUES } from "./argv-grammar.js";
import { type CliRun, contractProblems, runCliInProcess } from "./cli-run.js";
import { bump, type Counts, fuzzFile, type PropertyBudget, testTimeoutFor } from "./fuzz-env.js";

const fuzz = fuzzFile("cli-bounds");
const etcd = useTestEtcd();
let serviceNo = 0;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** The duration in ms as etcdctl spells it (a bare number is seconds), or NaN when it is not one. */
function durationMs(text: string): number {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t) * 1000;
  const parts = [...t.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== t) return Number.NaN;
  return parts.reduce((sum, [, n, unit]) => sum + Number(n) * UNIT_MS[unit!]!, 0);
}

const amount = fc.oneof(
  fc.constantFrom(
    "0",
    "1",
    "0.0001",
    "0.4",
    "0.5",
    "2",
    "5",
    "596",
    "597",
    "2147483647",
    "2147483648",
    "99999999",
    "1e3",
    "-1",
    "1.5",
    "Infinity",
  ),
  fc.nat().map(String),
  fc.double({ min: 0, max: 1e12, noNaN: true }).map((n) => String(n)),
);
const durationArb: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(amount, fc.constantFrom("ms", "s", "m", "h", "")).map(([n, u]) => `${n}${u}`),
  fc.constantFrom("1m30s", "24h", "596h31m23s", "596h31m24s", " 2s ", "", "1h1h", "abc"),
);

type Slot = "--dial-timeout" | "--command-timeout" | "ETCDCTL_DIAL_TIMEOUT" | "ETCDCTL_COMMAND_TIMEOUT";
interface DurationCase {
  slot: Slot;
  value: string;
}
const durationCaseArb: fc.Arbitrary<DurationCase> = fc.record({
  slot: fc.constantFrom<Slot>(
    "--dial-timeout",
    "--command-timeout",
    "ETCDCTL_DIAL_TIMEOUT",
    "ETCDCTL_COMMAND_TIMEOUT",
  ),
  value: durationArb,
});

// A timeout this long must let a local etcd answer; a shorter one may legitimately run out.
const ENOUGH_MS = 2_000;
// The CLI's dial timeout when none is given (packages/cli/README.md).
const DEFAULT_DIAL_TIMEOUT_MS = 2_000;
// The CLI's documented range for a duration (packages/cli/README.md): 1 ms to 24 h. Longer is a usage
// error by design, well inside what a Node timer can wait.
const CLI_MAX_DURATION_MS = 24 * 3_600_000;

function durationProblems(c: DurationCase, run: CliRun): string[] {
  const ms = durationMs(c.value);
  const problems = contractProblems(run);
  const valid = ms >= ENOUGH_MS && ms <= CLI_MAX_DURATION_MS;
  if (run.code === 2) {
    if (valid) problems.push(`the valid duration ${JSON.stringify(c.value)} (${ms} ms) was refused`);
    const line = run.stderr.split("\n").find((l) => l.startsWith("error:")) ?? "";
    const flag = c.slot.startsWith("--")
      ? c.slot
      : `--${c.slot.slice("ETCDCTL_".length).toLowerCase().replace("_", "-")}`;
    if (!line.includes(flag) && !line.includes(c.slot))
      problems.push(`the error line names neither ${flag} nor ${c.slot}: ${JSON.stringify(line)}`);
  } else if (run.code === 1 && !(ms < ENOUGH_MS)) {
    // The defect is a deadline that runs out before its time (a timer Node fired at once). On a starved
    // machine even a local etcd can miss a deadline of a few seconds: a failure that came only after the
    // timeout in effect ran its full length (the given one, or the 2 s default dial timeout when the
    // command timeout is the one given) honoured it.
    const dial = c.slot === "--dial-timeout" || c.slot === "ETCDCTL_DIAL_TIMEOUT";
    const inEffect = dial ? ms : Math.min(ms, DEFAULT_DIAL_TIMEOUT_MS);
    if (run.ms < inEffect)
      problems.push(`accepted ${JSON.stringify(c.value)} (${ms} ms) and then failed after ${run.ms} ms`);
  }
  return problems;
}

const D_EXAMPLES: [DurationCase][] = [
  [{ slot: "--dial-timeout", value: "99999999h" }],
  [{ slot: "--command-timeout", value: "2147483648ms" }],
  [{ slot: "ETCDCTL_DIAL_TIMEOUT", value: "0.0001ms" }],
  [{ slot: "--dial-timeout", value: "596h" }],
];
const DURATIONS: PropertyBudget = { runs: 30, runTimeoutMs: 30_000, examples: D_EXAMPLES };
const durationCounts: Counts = {};

it("--dial-timeout and --command-timeout: a usage error or honoured", {
  timeout: testTimeoutFor(DURATIONS),
}, async () => {
  const property = fc.asyncProperty(durationCaseArb, async (c) => {
    const service = `${etcd.namespace}/d${++serviceNo}`;
    const env: Record<string, string> = { ETCD_ENDPOINTS: etcd.endpoints.join(",") };
    const argv = ["list", service];
    if (c.slot.startsWith("--")) argv.push(c.slot, c.value);
    else env[c.slot] = c.value;
    const run = await runCliInProcess(argv, { env, timeoutMs: 20_000 });
    bump(durationCounts, "invocations");
    bump(durationCounts, `exit ${run.code ?? "none"}`);
    const problems = durationProblems(c, run);
    if (problems.length > 0) {
      throw new Error(
        `etcd-naming ${argv.map((a) => JSON.stringify(a)).join(" ")} with ${JSON.stringify(env)}: ${problems.join("; ")}; stderr ${JSON.stringify(run.stderr.slice(0, 400))}`,
      );
    }
  });
  await fuzz.check("CLI durations", property, DURATIONS, durationCounts);
});

// --ttl: whole seconds from 2 up to etcd's maximum (9,000,000,000); a registration that is accepted must
// hold its one lease quietly until it is stopped.
const ttlArb = fc.oneof(
  fc.constantFrom(...TTL_VALUES),
  fc.integer({ min: 2, max: 9_000_000_000 }).map(String),
);
const MAX_TTL = 9_000_000_000;
const OBSERVE_MS = 1_500;

interface Event {
  event: string;
  ttl?: number;
}

function ttlProblems(text: string, run: CliRun): string[] {
  const problems = contractProblems(run);
  const trimmed = text.trim();
  const ttl = /^\d+$/.test(trimmed) ? Number(trimmed) : Number.NaN;
  const valid = ttl >= 2 && ttl <= MAX_TTL;
  if (run.code === 2) {
    // Above 24.8 days Node's timers cannot count a TTL/3; refusing such a TTL is allowed, not required.
    if (valid && ttl <= 2_147_483) problems.push(`the valid --ttl ${JSON.stringify(text)} was refused`);
    if (!/ttl/i.test(run.stderr.split("\n").find((l) => l.startsWith("error:")) ?? "")) {
      problems.push("the error line does not name the TTL");
    }
    return problems;
  }
  if (!valid)
    problems.push(
      `--ttl ${JSON.stringify(text)} is not a TTL etcd grants, yet it was not refused (exit ${run.code})`,
    );
  const events = run.stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Event);
  const registered = events.filter((e) => e.event === "registered");
  const flapping = events.filter((e) => e.event === "lost" || e.event === "reregistered");
  if (run.code !== 0) problems.push(`exit ${run.code}: ${run.stderr.split("\n")[0]}`);
  if (registered.length !== 1) problems.push(`${registered.length} "registered" events`);
  else if (registered[0]!.ttl !== ttl)
    problems.push(`registered with TTL ${registered[0]!.ttl}, asked ${ttl}`);
  if (flapping.length > 0)
    problems.push(`${flapping.length} lost/reregistered events in ${OBSERVE_MS} ms on a healthy etcd`);
  if (!events.some((e) => e.event === "deregistered")) problems.push("no deregistered event after SIGTERM");
  return problems;
}

const TTL_EXAMPLES: [string][] = [["2147484"], ["9000000000"], ["9000000001"], ["2"]];
const TTLS: PropertyBudget = { runs: 3, runTimeoutMs: 40_000, examples: TTL_EXAMPLES };
const ttlCounts: Counts = {};

it("--ttl: a usage error or a lease that holds", { timeout: testTimeoutFor(TTLS) }, async () => {
  const property = fc.asyncProperty(ttlArb, async (ttl) => {
    const service = `${etcd.namespace}/t${++serviceNo}`;
    const env = { ETCD_ENDPOINTS: etcd.endpoints.join(",") };
    const argv = ["register", service, "127.0.0.1:1", "--ttl", ttl, "--json"];
    const run = await runCliInProcess(argv, { env, timeoutMs: 20_000, stopAfterMs: OBSERVE_MS });
    bump(ttlCounts, "invocations");
    bump(ttlCounts, `exit ${run.code ?? "none"}`);
    const problems = ttlProblems(ttl, run);
    if (problems.length > 0) {
      throw new Error(
        `etcd-naming ${argv.map((a) => JSON.stringify(a)).join(" ")}: ${problems.join("; ")}; stderr ${JSON.stringify(run.stderr.slice(0, 400))}`,
      );
    }
  });
  await fuzz.check("CLI --ttl", property, TTLS, ttlCounts);
});
