import { execFile } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertBuilt, binEnv, etcdctl } from "./test/bin.js";

// The `etcd-naming` bin as a user gets it: the packages packed the way they are published (publishConfig
// exports, workspace ranges replaced) and installed with npm into a project outside the workspace, their
// other dependencies (etcd3, commander) from the registry. No cache is assumed: pnpm's offline mode would
// need the metadata cache that a workspace installed from its lockfile never fills, so npm resolves online
// (reusing its own cache when it has one).
const run = promisify(execFile);
const packagesDir = fileURLToPath(new URL("../../", import.meta.url));
const PACKED = ["codec", "etcd", "watcher", "registrar", "cli"] as const;
const etcd = useTestEtcd();
let dir = "";
let bin = "";

/** Runs a command, failing with its output (a package manager says why on stdout as well as stderr). */
async function runOrExplain(file: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }) {
  try {
    return await run(file, args, { ...options, maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const e = error as Error & { stdout?: string; stderr?: string };
    throw new Error(`${file} ${args.join(" ")} failed:\n${e.stdout ?? ""}${e.stderr ?? e.message}`);
  }
}

beforeAll(async () => {
  assertBuilt();
  dir = mkdtempSync(join(tmpdir(), "etcd-naming-installed-"));
  const tarballs = join(dir, "tarballs");
  mkdirSync(tarballs);
  const dependencies: Record<string, string> = {};
  for (const name of PACKED) {
    await runOrExplain("pnpm", ["pack", "--pack-destination", tarballs], { cwd: join(packagesDir, name) });
    const file = readdirSync(tarballs).find((f) => f.startsWith(`etcd-naming-${name}-`));
    if (file === undefined) throw new Error(`pnpm pack wrote no tarball for ${name}`);
    // The cli's own `^0.1.0` ranges on codec, etcd, watcher and registrar are met by these, so npm never asks
    // the registry for an @etcd-naming package.
    dependencies[`@etcd-naming/${name}`] = `file:${join(tarballs, file)}`;
  }
  const app = join(dir, "app");
  mkdirSync(app);
  writeFileSync(
    join(app, "package.json"),
    JSON.stringify({ name: "installed-bin-check", private: true, dependencies }),
  );
  await runOrExplain("npm", ["install", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd: app,
    env: { ...process.env, CI: "true" },
  });
  bin = join(app, "node_modules", ".bin", "etcd-naming");
}, 180_000);

afterAll(() => {
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
});

describe("the installed etcd-naming bin", () => {
  it("installs only the built files and answers --version", async () => {
    const installed = join(dir, "app", "node_modules", "@etcd-naming", "cli");
    expect(existsSync(join(installed, "dist", "index.js"))).toBe(true);
    expect(existsSync(join(installed, "src"))).toBe(false);
    // One copy of each package, the packed one: nothing nested, nothing fetched under the same name.
    expect(existsSync(join(installed, "node_modules", "@etcd-naming"))).toBe(false);
    const version = JSON.parse(readFileSync(join(installed, "package.json"), "utf8")) as { version: string };
    const { stdout } = await run(bin, ["--version"], { env: binEnv() });
    expect(stdout).toBe(`${version.version}\n`);
  });

  it("runs on the Node the tests run on", async () => {
    // The link runs through its `#!/usr/bin/env node` shebang: the matrix (Node 22, 24, 26) puts the Node
    // under test first on PATH, and this proves the bin gets that one too.
    const { stdout } = await run("node", ["-p", "process.version"], { env: binEnv() });
    expect(stdout.trim()).toBe(process.version);
  });

  // Two CLI processes and an etcdctl: seconds on a loaded machine.
  it("adds an endpoint in Go's format and lists it back", { timeout: 30_000 }, async () => {
    const service = `${etcd.namespace}/installed`;
    const env = binEnv({ ETCD_ENDPOINTS: etcd.endpoints.join(",") });
    await run(bin, ["add", service, "10.1.2.3:50051", "--metadata", '"zone=a"'], { env });
    const stored = await etcdctl(etcd.endpoints, ["get", `${service}/10.1.2.3:50051`, "--print-value-only"]);
    expect(stored.trimEnd()).toBe('{"Op":0,"Addr":"10.1.2.3:50051","Metadata":"zone=a"}');
    const { stdout } = await run(bin, ["list", service, "--json"], { env });
    expect(JSON.parse(stdout)).toEqual([
      expect.objectContaining({
        key: `${service}/10.1.2.3:50051`,
        addr: "10.1.2.3:50051",
        metadata: "zone=a",
      }),
    ]);
  });
});
