// The CLI's argument space: random command lines from a grammar of real and hostile tokens, against a
// real etcd of their own (whatever they write stays there). Whatever the command line, the exit code is
// 0, 1 or 2; a failure prints exactly one `error:` line (and the usage hint after it for exit 2); never a
// stack trace or Node's own warnings; never a hang; Object.prototype untouched. Most runs go through
// createCli in this process; a few through a real process, where Node's warnings and hangs show.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { type EtcdServer, startEtcd } from "@etcd-naming/etcd-fixture";
import fc from "fast-check";
import { afterAll, beforeAll, it } from "vitest";
import { argvArb, envArb, fill } from "./argv-grammar.js";
import {
  type CliRun,
  contractProblems,
  killCliProcesses,
  runCliInProcess,
  runCliProcess,
} from "./cli-run.js";
import { bump, type Counts, fuzzFile, testTimeoutFor } from "./fuzz-env.js";
import { prototypeChanges, snapshotPrototypes } from "./prototypes.js";

const fuzz = fuzzFile("cli-argv");
const prototypes = snapshotPrototypes();
let etcd: EtcdServer;
let dir: string;

beforeAll(async () => {
  etcd = await startEtcd({ name: "fuzz-argv" });
  dir = mkdtempSync(`${tmpdir()}/fuzz-argv-`);
  mkdirSync(`${dir}/sub`);
  writeFileSync(`${dir}/garbage.pem`, "not a certificate\n");
}, 60_000);

afterAll(async () => {
  await killCliProcesses();
  await etcd?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Case {
  argv: string[];
  env: Record<string, string>;
  /** When `watch` or `register` is stopped (SIGTERM), in ms after the start. */
  stopAfterMs: number;
}

const caseArb: fc.Arbitrary<Case> = fc.record({
  argv: argvArb,
  env: envArb,
  stopAfterMs: fc.integer({ min: 0, max: 600 }),
});

function materialise(c: Case): { argv: string[]; env: Record<string, string> } {
  const hostPort = etcd.endpoints[0]!;
  const env: Record<string, string> = { ETCD_ENDPOINTS: hostPort };
  for (const [k, v] of Object.entries(c.env)) env[k] = fill(v, hostPort, dir);
  return { argv: c.argv.map((t) => fill(t, hostPort, dir)), env };
}

const describeRun = (argv: string[], env: Record<string, string>, run: CliRun): string =>
  `etcd-naming ${argv.map((a) => JSON.stringify(a.length > 80 ? `${a.slice(0, 80)}…(${a.length})` : a)).join(" ")} ` +
  `with ${JSON.stringify(env)} → exit ${run.code} in ${run.ms} ms; stderr ${JSON.stringify(run.stderr.slice(0, 500))}`;

const outcomes = (counts: Counts, run: CliRun) => bump(counts, `exit ${run.code ?? "none"}`);

// What an outside adversarial run reported (issue 21): help on prototype names and no arguments at all
// without an error line, a nonsense deadline from a huge --dial-timeout, Node's warnings in the output.
const EXAMPLES: [Case][] = [
  [{ argv: ["help", "constructor"], env: {}, stopAfterMs: 0 }],
  [{ argv: ["help", "__proto__"], env: {}, stopAfterMs: 0 }],
  [{ argv: [], env: {}, stopAfterMs: 0 }],
  [{ argv: ["list", "svc", "--dial-timeout", "99999999h"], env: {}, stopAfterMs: 0 }],
  [{ argv: ["list", "svc", "--endpoints", "http://:@port"], env: {}, stopAfterMs: 0 }],
  [
    {
      argv: ["list", "svc", "--endpoints", "https://@etcd", "--dial-timeout", "2s"],
      env: {},
      stopAfterMs: 0,
    },
  ],
];

const IN_PROCESS = { runs: 60, runTimeoutMs: 30_000, examples: EXAMPLES };
const inProcessCounts: Counts = {};

it("in process: exit 0/1/2, one error line, no stack, no hang", {
  timeout: testTimeoutFor(IN_PROCESS),
}, async () => {
  const property = fc.asyncProperty(caseArb, async (c) => {
    const { argv, env } = materialise(c);
    // Only watch and register look at the stop signal; it is harmless to the others.
    const run = await runCliInProcess(argv, { env, timeoutMs: 15_000, stopAfterMs: c.stopAfterMs });
    bump(inProcessCounts, "invocations");
    outcomes(inProcessCounts, run);
    const problems = contractProblems(run);
    const changed = prototypeChanges(prototypes);
    if (changed.length > 0) problems.push(`built-in prototypes changed: ${changed.join(", ")}`);
    if (problems.length > 0) throw new Error(`${describeRun(argv, env, run)}\n  ${problems.join("\n  ")}`);
  });
  await fuzz.check("argv in process", property, IN_PROCESS, inProcessCounts);
});

// The same grammar through real processes, three at a time; the examples above go first, grouped.
const PROCESS_EXAMPLES: [Case[]][] = [
  [EXAMPLES.slice(0, 3).map(([c]) => c)],
  [EXAMPLES.slice(3).map(([c]) => c)],
];
/** Output of a `watch` or `register` that is up and waiting for SIGTERM. */
const RUNNING = /^registered |"event":"registered"|^watching |"op":"add"/m;
const AS_PROCESS = { runs: 1, runTimeoutMs: 60_000, shrinkMs: 40_000, examples: PROCESS_EXAMPLES };
const processCounts: Counts = {};

it("as a process: exit 0/1/2, one error line, no Node warnings, no hang", {
  timeout: testTimeoutFor(AS_PROCESS),
}, async () => {
  const property = fc.asyncProperty(fc.array(caseArb, { minLength: 1, maxLength: 3 }), async (cases) => {
    const failures = await Promise.all(
      cases.map(async (c) => {
        const { argv, env } = materialise(c);
        const runs = argv.includes("watch") || argv.includes("register");
        const run = await runCliProcess(argv, {
          env,
          timeoutMs: 45_000,
          maxRssKb: 400 * 1024,
          ...(runs ? { stopWhen: RUNNING, stopAfterOutputMs: 8_000 } : {}),
        });
        bump(processCounts, "processes");
        outcomes(processCounts, run);
        const problems = contractProblems(run);
        if (run.guard.some((g) => g.kind === "connect"))
          problems.push(`the loopback guard refused ${JSON.stringify(run.guard)}`);
        return problems.length === 0 ? "" : `${describeRun(argv, env, run)}\n  ${problems.join("\n  ")}`;
      }),
    );
    const failed = failures.filter((f) => f !== "");
    if (failed.length > 0) throw new Error(failed.join("\n"));
  });
  await fuzz.check("argv as a process", property, AS_PROCESS, processCounts);
});
