import { readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The public packages the bench imports: measured as they are built, the files npm installs. */
const MEASURED = [
  "@etcd-naming/codec",
  "@etcd-naming/etcd",
  "@etcd-naming/watcher",
  "@etcd-naming/grpc-js",
  "@etcd-naming/registrar",
] as const;

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith(".ts") && !entry.name.includes(".test.")) {
      newest = Math.max(newest, statSync(path).mtimeMs);
    }
  }
  return newest;
}

/**
 * Each measured package as this process loads it (its built `dist/index.js`), or a reason it cannot be
 * measured: loaded from source (a transpiler's output differs from the build's: esbuild's `__name` helpers
 * on every closure made our part of an isolated change cost about 40 % more), or built before its source last changed.
 */
export function checkBuilt(resolve: (specifier: string) => string = import.meta.resolve): string[] {
  const problems: string[] = [];
  for (const name of MEASURED) {
    const file = fileURLToPath(resolve(name));
    if (!/[/\\]dist[/\\]index\.js$/.test(file)) {
      problems.push(
        `${name} resolves to ${file}, not its build (run the bench without the source condition)`,
      );
      continue;
    }
    const src = join(dirname(dirname(file)), "src");
    if (statSync(file).mtimeMs < newestSource(src)) {
      problems.push(`${name}'s build is older than its source`);
    }
  }
  return problems;
}
