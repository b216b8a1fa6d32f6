import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { expect, it } from "vitest";

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const script = fileURLToPath(new URL("./test/load-both-builds.mjs", import.meta.url));

it("the ESM and CommonJS builds loaded into one process share one registration of the scheme", async () => {
  for (const build of ["dist/index.js", "dist/index.cjs"]) {
    if (!existsSync(`${packageDir}${build}`))
      throw new Error(`packages/grpc-js/${build} is missing: run \`pnpm build\` first`);
  }
  // A plain Node process: the test runner would resolve the package to its sources instead.
  const { stdout } = await promisify(execFile)(process.execPath, [script], {
    cwd: packageDir,
    timeout: 30_000,
  });
  const seen = JSON.parse(stdout.trim().split("\n").at(-1)!);
  expect(seen).toEqual({
    distinctModules: true,
    // The second build finds the first one's registration: same client and options, same handle.
    sameHandle: true,
    conflict: "ALREADY_REGISTERED",
    // One registration closed is the scheme closed: no second build's resolver is left behind it.
    newChannel: "CLOSED",
    registeredAfterClose: "etcd",
  });
});
