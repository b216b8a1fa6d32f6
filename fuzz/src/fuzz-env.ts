// How long and with which seed the fuzz properties run, from the environment: a short run by default (the
// test command), longer with FUZZ_RUNS or FUZZ_SECONDS, and any failure replayable with FUZZ_SEED (and
// FUZZ_PATH, which fast-check prints with it, to go straight to the failing case).
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { afterAll, expect } from "vitest";
import { type GuardLog, installLoopbackGuard } from "./loopback-guard.js";

/** What the environment asks of every property of this run. */
export interface FuzzSettings {
  /** `FUZZ_SEED`: one seed for every property, or undefined for a fresh seed per property. */
  seed: number | undefined;
  /** `FUZZ_PATH`: replay this fast-check path (with `FUZZ_SEED`) instead of searching. */
  path: string | undefined;
  /** `FUZZ_RUNS`: runs per property instead of its short default. */
  runs: number | undefined;
  /** `FUZZ_SECONDS`: search each property for this long instead of a number of runs. */
  seconds: number | undefined;
}

function positiveNumber(name: string, raw: string | undefined, integer: boolean): number | undefined {
  if (raw === undefined || raw.trim() === "") return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new Error(
      `${name} must be a positive ${integer ? "integer" : "number"}, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}

/** Reads and checks FUZZ_SEED, FUZZ_PATH, FUZZ_RUNS and FUZZ_SECONDS. */
export function fuzzSettings(env: NodeJS.ProcessEnv = process.env): FuzzSettings {
  const rawSeed = env["FUZZ_SEED"];
  let seed: number | undefined;
  if (rawSeed !== undefined && rawSeed.trim() !== "") {
    seed = Number(rawSeed);
    if (!Number.isInteger(seed) || seed < -(2 ** 31) || seed >= 2 ** 32) {
      throw new Error(`FUZZ_SEED must be an integer in [-2^31, 2^32), got ${JSON.stringify(rawSeed)}`);
    }
  }
  const rawPath = env["FUZZ_PATH"];
  const path = rawPath === undefined || rawPath.trim() === "" ? undefined : rawPath.trim();
  if (path !== undefined && !/^\d+(:\d+)*$/.test(path)) {
    throw new Error(
      `FUZZ_PATH must look like 12:0:3 (as fast-check prints it), got ${JSON.stringify(rawPath)}`,
    );
  }
  if (path !== undefined && seed === undefined)
    throw new Error("FUZZ_PATH needs the FUZZ_SEED it was printed with");
  return {
    seed,
    path,
    runs: positiveNumber("FUZZ_RUNS", env["FUZZ_RUNS"], true),
    seconds: positiveNumber("FUZZ_SECONDS", env["FUZZ_SECONDS"], false),
  };
}

/** How one property runs in the short mode, and how long one of its runs may take. */
export interface PropertyBudget {
  /** Random runs in the short (default) mode, after the examples. */
  runs: number;
  /** A single run taking longer than this fails as a hang. */
  runTimeoutMs: number;
  /** After a failure, time spent shrinking the counterexample (default 20 s; fast-check stops earlier when done). */
  shrinkMs?: number;
  /** Cases run before the random ones, in every mode (boundary sweeps). */
  examples?: readonly unknown[][];
}

/** The vitest timeout a test needs to run `budget` in the current mode, with room for shrinking and clean-up. */
export function testTimeoutFor(budget: PropertyBudget, settings: FuzzSettings = fuzzSettings()): number {
  const shrink = budget.shrinkMs ?? 20_000;
  const examples = budget.examples?.length ?? 0;
  const search =
    settings.path !== undefined
      ? budget.runTimeoutMs
      : settings.seconds !== undefined
        ? settings.seconds * 1000 + (examples + 1) * budget.runTimeoutMs
        : ((settings.runs ?? budget.runs) + examples) * budget.runTimeoutMs;
  return search + shrink + budget.runTimeoutMs + 30_000;
}

/** What a property run did, for the report and docs/reliability.md. */
export interface FuzzReport {
  property: string;
  seed: number;
  runs: number;
  examples: number;
  ms: number;
  failed: boolean;
  /** Extra counts the property keeps (keys written, invocations, guard refusals…). */
  counts: Record<string, number>;
}

const resultsDir = fileURLToPath(new URL("../results/", import.meta.url));

/** Writes `fuzz/results/<file>.json` (gitignored) with the reports of one test file. */
export function writeReports(file: string, reports: readonly FuzzReport[]): void {
  mkdirSync(resultsDir, { recursive: true });
  const body = {
    file,
    etcd: process.env["ETCD_BIN"] ?? "etcd on PATH",
    finishedAt: new Date().toISOString(),
    reports,
  };
  writeFileSync(`${resultsDir}${file}.json`, `${JSON.stringify(body, null, 2)}\n`);
}

/** The property's own counters, bumped from inside runs and copied into its report. */
export type Counts = Record<string, number>;

export function bump(counts: Counts, name: string, by = 1): void {
  counts[name] = (counts[name] ?? 0) + by;
}

/** A shell word for vitest's `-t` that matches the running test's title (a pattern, so escaped). */
function titlePattern(fallback: string): string {
  const title = expect.getState().currentTestName ?? fallback;
  const pattern = title.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return `'${pattern.replace(/'/g, "'\\''")}'`;
}

function firstLines(text: string, lines: number): string {
  const all = text.split("\n");
  const kept = all.length <= lines ? text : `${all.slice(0, lines).join("\n")}\n…`;
  return kept.length <= 4000 ? kept : `${kept.slice(0, 4000)}…`;
}

/**
 * The property as fast-check runs it, with its runs in flight remembered. fast-check's time limits (the
 * search's `interruptAfterTimeLimit`, a run's `timeout`) stop waiting for a run but do not stop it: a run
 * abandoned when a property's time is up would go on during the next property's runs, closing their
 * clients and writing into their etcd. `settled()` waits for such runs and says how the last one ended.
 */
function tracked<Ts extends [unknown, ...unknown[]]>(property: fc.IAsyncPropertyWithHooks<Ts>) {
  const pending = new Set<Promise<void>>();
  let abandonedFailure: { value: Ts; message: string } | undefined;
  const wrapped: fc.IAsyncPropertyWithHooks<Ts> = Object.create(property);
  wrapped.run = (value: Ts) => {
    const run = property.run(value);
    const done: Promise<void> = run.then(
      (outcome) => {
        pending.delete(done);
        // A failed run is an object with an `error`; null is a pass, a precondition failure has none.
        if (outcome !== null && typeof outcome === "object" && "error" in outcome) {
          const error = (outcome as { error: unknown }).error;
          abandonedFailure = { value, message: error instanceof Error ? error.message : String(error) };
        }
      },
      () => {
        pending.delete(done);
      },
    );
    pending.add(done);
    return run;
  };
  return {
    property: wrapped,
    /** Waits up to `ms` for every run fast-check stopped waiting for; throws if one is still going. */
    async settled(ms: number): Promise<{ value: Ts; message: string } | undefined> {
      if (pending.size > 0) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const timedOut = new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), ms);
        });
        const late = await Promise.race([Promise.all(pending).then(() => false), timedOut]);
        clearTimeout(timer);
        if (late) throw new Error(`a run abandoned at the time limit was still going ${ms} ms later`);
      }
      const failure = abandonedFailure;
      abandonedFailure = undefined;
      return failure;
    },
  };
}

/**
 * Runs a fast-check property in the mode the environment asks for and throws a readable failure that
 * names the seed, the path and the command that replays it. The search stops at the first failure;
 * shrinking then runs from that case for at most `shrinkMs`, since every run here talks to real
 * processes.
 */
export async function checkProperty<Ts extends [unknown, ...unknown[]]>(
  name: string,
  file: string,
  untracked: fc.IAsyncPropertyWithHooks<Ts>,
  budget: PropertyBudget,
  counts: Counts = {},
): Promise<FuzzReport> {
  const { property, settled } = tracked(untracked);
  const settings = fuzzSettings();
  const seed = settings.seed ?? Math.floor(Math.random() * 2 ** 31);
  const started = Date.now();
  const common = { seed, timeout: budget.runTimeoutMs, markInterruptAsFailure: false } as const;
  const examples = (budget.examples ?? []) as Ts[];
  let details: fc.RunDetails<Ts>;
  let abandoned: { value: Ts; message: string } | undefined;
  if (settings.path !== undefined) {
    details = await fc.check(property, {
      ...common,
      examples,
      path: settings.path,
      numRuns: 1,
      interruptAfterTimeLimit: budget.runTimeoutMs + (budget.shrinkMs ?? 20_000),
    });
  } else {
    details = await fc.check(property, {
      ...common,
      examples,
      endOnFailure: true,
      ...(settings.seconds !== undefined
        ? { numRuns: 2 ** 31 - 1, interruptAfterTimeLimit: settings.seconds * 1000 }
        : // fast-check counts the examples among the runs.
          { numRuns: (settings.runs ?? budget.runs) + examples.length }),
    });
    abandoned = await settled(budget.runTimeoutMs);
    if (details.failed && details.counterexamplePath !== null) {
      // Shrink from the failing case, within its own budget.
      const shrunk = await fc.check(property, {
        ...common,
        examples,
        path: details.counterexamplePath,
        numRuns: 1,
        interruptAfterTimeLimit: budget.shrinkMs ?? 20_000,
      });
      await settled(budget.runTimeoutMs);
      if (shrunk.failed && shrunk.counterexample !== null) details = shrunk;
    }
  }
  await settled(budget.runTimeoutMs);
  if (abandoned !== undefined && !details.failed) {
    throw new Error(
      [
        `fuzz property "${name}" failed (seed ${seed}) in the run under way when its time was up`,
        `counterexample: ${firstLines(fc.stringify(abandoned.value), 40)}`,
        `error: ${firstLines(abandoned.message, 40)}`,
      ].join("\n"),
    );
  }
  const report: FuzzReport = {
    property: name,
    seed,
    runs: details.numRuns,
    examples: examples.length,
    ms: Date.now() - started,
    failed: details.failed,
    counts: { ...counts },
  };
  if (details.failed) {
    const where = details.counterexamplePath ?? "";
    const error =
      details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    throw new Error(
      [
        `fuzz property "${name}" failed (seed ${seed}, path ${where || "-"}, after ${details.numRuns} runs, ${details.numShrinks} shrinks)`,
        `counterexample: ${firstLines(fc.stringify(details.counterexample), 40)}`,
        `error: ${firstLines(error, 40)}`,
        `replay: FUZZ_SEED=${seed}${where ? ` FUZZ_PATH=${where}` : ""} pnpm exec vitest run --project fuzz src/${file} -t ${titlePattern(name)}`,
      ].join("\n"),
    );
  }
  return report;
}

/** What every fuzz file shares: the loopback guard, the reports of its properties, and their check. */
export interface FuzzFile {
  /** What the loopback guard refused so far. */
  readonly guard: GuardLog;
  readonly reports: FuzzReport[];
  /** {@link checkProperty} under this file's name; the report is kept for `fuzz/results/<name>.json`. */
  check<Ts extends [unknown, ...unknown[]]>(
    property: string,
    run: fc.IAsyncPropertyWithHooks<Ts>,
    budget: PropertyBudget,
    counts?: Counts,
  ): Promise<FuzzReport>;
}

/**
 * Sets up one `<name>.fuzz.test.ts`: installs the loopback guard at once, and after the file writes its
 * reports and fails if the guard refused any connection. Call it first: the file's own `afterAll` hooks,
 * registered later, run before this one.
 */
export function fuzzFile(name: string): FuzzFile {
  const file = `${name}.fuzz.test.ts`;
  const guard = installLoopbackGuard();
  const reports: FuzzReport[] = [];
  afterAll(() => {
    writeReports(name, reports);
    expect(guard.connects, "connections the loopback guard refused").toEqual([]);
  });
  return {
    guard,
    reports,
    async check(property, run, budget, counts) {
      const report = await checkProperty(property, file, run, budget, counts);
      reports.push(report);
      return report;
    },
  };
}
