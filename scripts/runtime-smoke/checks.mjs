// What smoke.mjs and smoke.cjs share: run named checks in order, printing the plan first and then one JSON
// line per check, so the driver (run.mjs) can tell a failed check from one that never ran.

/** Rejects when `promise` has not settled within `ms`. */
export function within(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Runs `[name, fn]` checks one after another (later ones use what earlier ones set up), then exits. */
export async function runChecks(checks) {
  console.log(JSON.stringify({ plan: checks.map(([name]) => name) }));
  let failed = 0;
  for (const [name, fn] of checks) {
    const started = Date.now();
    try {
      const detail = await fn();
      console.log(JSON.stringify({ check: name, ok: true, ms: Date.now() - started, detail }));
    } catch (error) {
      failed++;
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      console.log(JSON.stringify({ check: name, ok: false, ms: Date.now() - started, error: message }));
    }
  }
  // A client or timer a failed check left open must not keep the runtime alive.
  process.exit(failed === 0 ? 0 : 1);
}
