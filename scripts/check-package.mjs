#!/usr/bin/env node
// Packs the package in the current directory the way it will be published (pnpm applies
// publishConfig.exports), checks that the tarball carries what a published package owes its users
// (LICENSE, README, where its source and issues live, provenance on publish), then checks it with publint
// and attw.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** What a public package's manifest and packed files lack; empty when nothing. */
export function releaseProblems(manifest, packedFiles) {
  const problems = [];
  for (const file of ["package/LICENSE", "package/README.md", "package/package.json"]) {
    if (!packedFiles.includes(file)) problems.push(`the tarball has no ${file.slice("package/".length)}`);
  }
  if (manifest.license !== "Apache-2.0") problems.push(`license is ${manifest.license}, not Apache-2.0`);
  if (!manifest.repository?.url || !manifest.repository?.directory)
    problems.push("repository needs url and directory");
  if (!manifest.homepage) problems.push("homepage is missing");
  if (!manifest.bugs?.url) problems.push("bugs.url is missing");
  if (manifest.publishConfig?.access !== "public") problems.push("publishConfig.access is not public");
  if (manifest.publishConfig?.provenance !== true) problems.push("publishConfig.provenance is not true");
  return problems;
}

const dir = mkdtempSync(join(tmpdir(), "etcd-naming-pack-"));
const run = (cmd, args) => execFileSync(cmd, args, { stdio: "inherit" });
try {
  run("pnpm", ["pack", "--pack-destination", dir]);
  const tarball = readdirSync(dir).find((f) => f.endsWith(".tgz"));
  if (!tarball) throw new Error(`pnpm pack wrote no tarball into ${dir}`);
  const path = join(dir, tarball);
  const files = execFileSync("tar", ["-tzf", path], { encoding: "utf8" }).split("\n").filter(Boolean);
  const manifest = JSON.parse(readFileSync("package.json", "utf8"));
  const problems = releaseProblems(manifest, files);
  if (problems.length > 0) {
    console.error(`${manifest.name} is not ready to publish:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    process.exitCode = 1;
  } else {
    run("pnpm", ["exec", "publint", "--strict", path]);
    run("pnpm", ["exec", "attw", path, "--profile", "node16"]);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
