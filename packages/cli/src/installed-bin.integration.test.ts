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
// exports, workspace ranges replaced) and installed into a project outside the workspace. The install is
// offline, from the package store the workspace install filled, so the test needs no registry.
const run = promisify(execFile);
const packagesDir = fileURLToPath(new URL("../../", import.meta.url));
const PACKED = ["codec", "watcher", "registrar", "cli"] as const;
const etcd = useTestEtcd();
let dir = "";
let bin = "";

beforeAll(async () => {
  assertBuilt();
  dir = mkdtempSync(join(tmpdir(), "etcd-naming-installed-"));
  const tarballs = join(dir, "tarballs");
  mkdirSync(tarballs);
  const tarball: Record<string, string> = {};
  for (const name of PACKED) {
    await run("pnpm", ["pack", "--pack-destination", tarballs], { cwd: join(packagesDir, name) });
    const file = readdirSync(tarballs).find((f) => f.startsWith(`etcd-naming-${name}-`));
    if (file === undefined) throw new Error(`pnpm pack wrote no tarball for ${name}`);
    tarball[name] = `file:${join(tarballs, file)}`;
  }
  const app = join(dir, "app");
  mkdirSync(app);
  writeFileSync(
    join(app, "package.json"),
    JSON.stringify({
      name: "installed-bin-check",
      private: true,
      dependencies: { "@etcd-naming/cli": tarball["cli"] },
      pnpm: {
        overrides: {
          ...Object.fromEntries(
            PACKED.filter((n) => n !== "cli").map((n) => [`@etcd-naming/${n}`, tarball[n]]),
          ),
          // protobufjs asks for any @types/node; pin the one the workspace has, so the store suffices.
          "@types/node": "^20.19.0",
        },
      },
    }),
  );
  await run("pnpm", ["install", "--offline", "--ignore-scripts", "--config.confirmModulesPurge=false"], {
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
    const version = JSON.parse(readFileSync(join(installed, "package.json"), "utf8")) as { version: string };
    const { stdout } = await run(bin, ["--version"], { env: binEnv() });
    expect(stdout).toBe(`${version.version}\n`);
  });

  it("adds an endpoint in Go's format and lists it back", async () => {
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
