#!/usr/bin/env node
// The Bun and Deno smoke test (scripts/test.sh runs it after `pnpm build`). The public packages are packed
// the way they are published and installed with npm into a project outside the workspace, as a user gets
// them; each runtime then runs smoke.mjs (import) and smoke.cjs (require) there against a real etcd that this
// driver starts with the fixture (`$ETCD_BIN`, else etcd on PATH). Every check each script plans is counted:
// one that fails or never ran (the runtime crashed) is a failure, so nothing is skipped silently.
//
//   node scripts/runtime-smoke/run.mjs [--summary FILE]
//   SMOKE_BUN=/path/to/bun SMOKE_DENO=/path/to/deno (default: the cache folder scripts/fetch-runtimes.sh fills)
import { execFile, spawn } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const { env } = process;
const here = fileURLToPath(new URL(".", import.meta.url));
const root = join(here, "..", "..");
const PACKED = ["codec", "etcd", "watcher", "grpc-js", "registrar", "cli", "undici", "connect"];
const run = promisify(execFile);

const summaryIndex = process.argv.indexOf("--summary");
const summaryFile = summaryIndex > 0 ? process.argv[summaryIndex + 1] : undefined;

const fixture = join(root, "packages", "etcd-fixture", "dist", "index.js");
if (!existsSync(fixture)) {
  console.error("error: packages/etcd-fixture/dist is missing: run pnpm build first");
  process.exit(1);
}
const { etcdNamingCache, startEtcd } = await import(fixture);
const cache = etcdNamingCache();
const runtimes = [
  { name: "bun", bin: env["SMOKE_BUN"] || join(cache, "bun-1", "package", "bin", "bun"), args: [] },
  {
    name: "deno",
    bin: env["SMOKE_DENO"] || join(cache, "deno-2", "package", "deno"),
    args: ["run", "-A"],
  },
];

async function runOrExplain(file, args, options) {
  try {
    return await run(file, args, { ...options, maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    throw new Error(
      `${file} ${args.join(" ")} failed:\n${error.stdout ?? ""}${error.stderr ?? error.message}`,
    );
  }
}

/** Packs the public packages and installs them with npm (their dependencies from the registry) into `app`. */
async function installPacked(dir) {
  const tarballs = join(dir, "tarballs");
  const app = join(dir, "app");
  mkdirSync(tarballs);
  mkdirSync(app);
  const dependencies = {
    "@bufbuild/protobuf": "^2.17.0",
    "@connectrpc/connect": "^2.3.0",
    "@connectrpc/connect-node": "^2.3.0",
    "@grpc/grpc-js": "^1.14.7",
    etcd3: "^1.1.2",
    undici: "^7.30.2",
  };
  for (const name of PACKED) {
    await runOrExplain("pnpm", ["pack", "--pack-destination", tarballs], {
      cwd: join(root, "packages", name),
    });
    const file = readdirSync(tarballs).find((f) => f.startsWith(`etcd-naming-${name}-`));
    if (file === undefined) throw new Error(`pnpm pack wrote no tarball for ${name}`);
    dependencies[`@etcd-naming/${name}`] = `file:${join(tarballs, file)}`;
  }
  writeFileSync(
    join(app, "package.json"),
    JSON.stringify({ name: "runtime-smoke", private: true, dependencies }),
  );
  await runOrExplain("npm", ["install", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd: app,
  });
  for (const file of ["smoke.mjs", "smoke.cjs", "checks.mjs"])
    copyFileSync(join(here, file), join(app, file));
  return app;
}

/** Runs one smoke script; resolves with its plan, its check lines and how it ended. */
function runScript(runtime, script, cwd, env) {
  return new Promise((resolve) => {
    const child = spawn(runtime.bin, [...runtime.args, script], {
      cwd,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s) => (stderr += s));
    const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
    const done = (how) => {
      clearTimeout(timer);
      let plan = [];
      const results = new Map();
      for (const line of stdout.split("\n")) {
        let parsed;
        try {
          parsed = JSON.parse(line);
        } catch {
          continue;
        }
        if (Array.isArray(parsed.plan)) plan = parsed.plan;
        else if (typeof parsed.check === "string") results.set(parsed.check, parsed);
      }
      resolve({ plan, results, how, stderr });
    };
    child.on("error", (error) => done(`could not start: ${error.message}`));
    child.on("close", (code, signal) => done(signal ? `killed by ${signal}` : `exit ${code}`));
  });
}

const totals = { passed: 0, failed: 0, skipped: 0 };
const dir = mkdtempSync(join(tmpdir(), "etcd-naming-runtime-smoke-"));
let etcd;
let status = 0;
try {
  const app = await installPacked(dir);
  etcd = await startEtcd({ name: "runtime-smoke" });
  for (const runtime of runtimes) {
    const counts = { passed: 0, failed: 0 };
    let version = "missing";
    try {
      version = (await run(runtime.bin, ["--version"])).stdout
        .split("\n")[0]
        .replace(/^deno /, "")
        .split(" ")[0];
    } catch (error) {
      console.log(`✗ ${runtime.name}: cannot run ${runtime.bin} (${error.message.split("\n")[0]})`);
      console.log(`  fetch it with \`bash scripts/fetch-runtimes.sh\``);
      counts.failed++;
    }
    if (version !== "missing") {
      for (const script of ["smoke.mjs", "smoke.cjs"]) {
        const scriptEnv = {
          ...env,
          ETCD_ENDPOINTS: etcd.endpoints.join(","),
          SMOKE_SERVICE: `smoke-${runtime.name}-${script.replace(".", "-")}`,
          NO_COLOR: "1",
        };
        const { plan, results, how, stderr } = await runScript(runtime, script, app, scriptEnv);
        const failedBefore = counts.failed;
        if (plan.length === 0) {
          console.log(`✗ ${runtime.name} ${script}: printed no plan (${how})\n${stderr.trim()}`);
          counts.failed++;
          continue;
        }
        for (const name of plan) {
          const result = results.get(name);
          if (result?.ok) {
            counts.passed++;
            console.log(`✓ ${runtime.name} ${name} (${result.ms} ms)`);
          } else {
            counts.failed++;
            const why = result ? result.error : `never ran: the script ended first (${how})`;
            console.log(`✗ ${runtime.name} ${name}: ${why}`);
          }
        }
        if (counts.failed > failedBefore && stderr.trim() !== "")
          console.log(`  ${runtime.name} stderr: ${stderr.trim()}`);
      }
    }
    console.log(
      `tests (etcd ${etcd.version}, ${runtime.name} ${version}): ${counts.passed} passed, ${counts.failed} failed, 0 skipped`,
    );
    totals.passed += counts.passed;
    totals.failed += counts.failed;
  }
} catch (error) {
  console.log(`✗ runtime smoke test: ${error.message}`);
  totals.failed++;
} finally {
  await etcd?.close();
  rmSync(dir, { recursive: true, force: true });
}
if (totals.failed > 0) status = 1;
if (summaryFile) writeFileSync(summaryFile, JSON.stringify(totals));
process.exit(status);
