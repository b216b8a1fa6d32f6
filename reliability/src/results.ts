// Measured figures of a run, written to reliability/results/<suite>.json (gitignored) for the report.
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const dir = fileURLToPath(new URL("../results/", import.meta.url));

/** The path of a file `name` in reliability/results/ (created if missing). */
export function resultsPath(name: string): string {
  mkdirSync(dir, { recursive: true });
  return `${dir}${name}`;
}

export function writeResults(suite: string, figures: Record<string, unknown>): void {
  mkdirSync(dir, { recursive: true });
  const body = { suite, finishedAt: new Date().toISOString(), ...figures };
  writeFileSync(`${dir}${suite}.json`, `${JSON.stringify(body, null, 2)}\n`);
}
