import { readFileSync } from "node:fs";

/**
 * The package's version, read from package.json at run time. Both `src/` and `dist/` sit one level below
 * the package root, so the same relative path works from the sources and from the build.
 */
export function packageVersion(): string {
  const raw = readFileSync(new URL("../package.json", import.meta.url), "utf8");
  const version: unknown = (JSON.parse(raw) as { version?: unknown }).version;
  return typeof version === "string" ? version : "0.0.0";
}
