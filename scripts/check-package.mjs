#!/usr/bin/env node
// Packs the package in the current directory the way it will be published (pnpm applies
// publishConfig.exports) and checks the tarball with publint and attw.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const dir = mkdtempSync(join(tmpdir(), "etcd-naming-pack-"));
const run = (cmd, args) => execFileSync(cmd, args, { stdio: "inherit" });
try {
  run("pnpm", ["pack", "--pack-destination", dir]);
  const tarball = readdirSync(dir).find((f) => f.endsWith(".tgz"));
  if (!tarball) throw new Error(`pnpm pack wrote no tarball into ${dir}`);
  const path = join(dir, tarball);
  run("pnpm", ["exec", "publint", "--strict", path]);
  run("pnpm", ["exec", "attw", path, "--profile", "node16"]);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
