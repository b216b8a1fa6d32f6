// Without @opentelemetry/api the packages record nothing and work as ever: a child process in which any
// `@opentelemetry/*` import fails resolves and calls a service through the etcd: scheme.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import { expect, it } from "vitest";

const etcd = useTestEtcd();
const run = promisify(execFile);
const test = (file: string) => fileURLToPath(new URL(`./test/${file}`, import.meta.url));
const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

it("resolves and calls a service in a process where @opentelemetry/api cannot be imported", async () => {
  const { stdout } = await run(
    process.execPath,
    [
      "--conditions=@etcd-naming/source",
      "--import",
      "tsx",
      "--import",
      test("no-otel.mjs"),
      test("child-no-otel.ts"),
      etcd.endpoints.join(","),
      `${etcd.namespace}/no-otel`,
    ],
    { cwd: repoRoot, timeout: 20_000 },
  );
  expect(JSON.parse(stdout.trim().split("\n").at(-1)!)).toEqual({
    hidden: true,
    reply: "no-otel",
    endpoints: 1,
  });
}, 30_000);
