import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import { afterAll, describe, expect, it } from "vitest";
import { recipes, stored } from "./recipes.js";

const etcd = useTestEtcd();
const packageDir = fileURLToPath(new URL("..", import.meta.url));
const cliDir = dirname(createRequire(import.meta.url).resolve("@etcd-naming/cli/package.json"));
const cli = existsSync(join(cliDir, "dist/index.js"))
  ? [process.execPath, join(cliDir, "bin/etcd-naming.mjs")]
  : [
      process.execPath,
      "--conditions=@etcd-naming/source",
      "--import",
      "tsx",
      join(packageDir, "src/run-cli.ts"),
    ];
const TTL = 2;

describe("go-compatible-registry", () => {
  const client = etcd.client();
  const steps = recipes(
    { client, endpoints: etcd.endpoints, etcdctl: "/usr/bin/etcdctl", cli },
    {
      prefix: `${etcd.namespace}/direct`,
      service: "my-service",
      addr: "10.0.0.5:50051",
      metadata: "zone-a",
      ttl: TTL,
    },
  );
  afterAll(() => steps.running.stop());
  const expected = '{"Op":0,"Addr":"10.0.0.5:50051","Metadata":"zone-a"}';

  it("etcdctl, the CLI and the API store the same bytes, delete the same key, and attach the same lease", async () => {
    for (const way of steps.add.ways) await way.run();
    for (const way of steps.add.ways) {
      expect(await stored(client, way.service), way.name).toEqual([
        {
          key: `${way.service}/10.0.0.5:50051`,
          value: expected,
          lease: "0",
          grantedTtl: 0,
          attachedKeys: [],
        },
      ]);
    }

    for (const way of steps.del.ways) await way.run();
    for (const way of steps.del.ways) expect(await stored(client, way.service), way.name).toEqual([]);

    for (const way of steps.lease.ways) await way.run();
    const leases = new Set<string>();
    for (const way of steps.lease.ways) {
      const [entry, ...more] = await stored(client, way.service);
      expect(more, way.name).toEqual([]);
      expect(entry, way.name).toMatchObject({
        key: `${way.service}/10.0.0.5:50051`,
        value: expected,
        grantedTtl: TTL,
        attachedKeys: [`${way.service}/10.0.0.5:50051`],
      });
      expect(entry?.lease, way.name).not.toBe("0");
      leases.add(entry!.lease);
    }
    expect(leases.size).toBe(3); // one lease per way, each holding only its own key

    // Only a running keep-alive keeps a 2 s lease past 3 s.
    await new Promise((resolve) => setTimeout(resolve, (TTL + 1) * 1_000));
    for (const way of steps.lease.ways) expect(await stored(client, way.service), way.name).toHaveLength(1);

    await steps.running.stop();
    for (const way of steps.lease.ways) expect(await stored(client, way.service), way.name).toEqual([]);
  }, 40_000);

  it("the program prints each recipe three ways and says they agree", async () => {
    const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>(
      (resolve) => {
        execFile(
          process.execPath,
          ["--conditions=@etcd-naming/source", "--import", "tsx", "src/main.ts"],
          {
            cwd: packageDir,
            timeout: 40_000,
            env: {
              ...process.env,
              ETCD_ENDPOINTS: etcd.endpoints.join(","),
              PREFIX: `${etcd.namespace}/main`,
              TTL: String(TTL),
            },
          },
          (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
        );
      },
    );
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    expect(stdout.match(/identical for all three ✓/g)).toHaveLength(3);
    expect(stdout).toContain(
      `$ etcdctl put ${etcd.namespace}/main/etcdctl/my-service/10.0.0.5:50051 '${expected}'`,
    );
    expect(stdout).toContain(
      `$ etcd-naming add ${etcd.namespace}/main/etcd-naming/my-service 10.0.0.5:50051`,
    );
    expect(stdout).toMatch(
      /etcdctl\s+still registered ✓, etcd-naming still registered ✓, API still registered ✓/,
    );
    expect(await stored(client, `${etcd.namespace}/main/api/my-service`)).toEqual([]);
  }, 60_000);
});
