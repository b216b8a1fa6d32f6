import { execFile } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import { createEtcdDispatcher, NoEndpointsError } from "@etcd-naming/undici";
import { fetch } from "undici";
import { afterAll, describe, expect, it } from "vitest";

const etcd = useTestEtcd();
const packageDir = fileURLToPath(new URL("..", import.meta.url));
const servers: Server[] = [];
afterAll(() => Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve)))));

/** An HTTP server answering with its name, registered the way Go's endpoints.Manager writes it. */
async function startHttp(service: string, name: string): Promise<string> {
  const server = createServer((_, response) => response.end(`hello from ${name}\n`));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const addr = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  await etcd
    .client()
    .put(`${service}/${name}`)
    .value(JSON.stringify({ Op: 0, Addr: addr, Metadata: null }));
  return addr;
}

describe("custom-consumer", () => {
  it("the program spreads its requests round robin over the HTTP servers registered in etcd", async () => {
    const service = `${etcd.namespace}/http-api`;
    await Promise.all(["web-1", "web-2", "web-3"].map((name) => startHttp(service, name)));

    const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>(
      (resolve) => {
        execFile(
          process.execPath,
          ["--conditions=@etcd-naming/source", "--import", "tsx", "src/main.ts"],
          {
            cwd: packageDir,
            timeout: 30_000,
            env: {
              ...process.env,
              ETCD_ENDPOINTS: etcd.endpoints.join(","),
              SERVICE: service,
              REQUESTS: "9",
              INTERVAL_MS: "20",
            },
          },
          (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
        );
      },
    );
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    const lines = stdout.trim().split("\n");
    expect(lines).toHaveLength(9);
    const hits = new Map<string, number>();
    for (const line of lines) {
      const name = /^GET \/ → 200 hello from (web-\d)$/.exec(line)?.[1];
      expect(name, line).toBeDefined();
      hits.set(name!, (hits.get(name!) ?? 0) + 1);
    }
    expect(Object.fromEntries(hits)).toEqual({ "web-1": 3, "web-2": 3, "web-3": 3 });
  }, 40_000);

  it("follows the registry: a deleted endpoint leaves the rotation, a new one joins it", async () => {
    const service = `${etcd.namespace}/follow`;
    const client = etcd.client();
    const a = await startHttp(service, "a");
    const dispatcher = createEtcdDispatcher({ client, service, waitForEndpointsMs: 200 });
    const api = {
      fetch: (path: string) => fetch(`http://http-api${path}`, { dispatcher }),
      endpoints: () => dispatcher.origins(service).map((origin) => origin.slice("http://".length)),
    };
    try {
      expect(await (await api.fetch("/")).text()).toBe("hello from a\n");

      const b = await startHttp(service, "b");
      await expect.poll(() => api.endpoints(), { timeout: 5_000 }).toEqual(expect.arrayContaining([a, b]));
      const seen = new Set<string>();
      for (let i = 0; i < 4; i++) seen.add(await (await api.fetch("/")).text());
      expect(seen).toEqual(new Set(["hello from a\n", "hello from b\n"]));

      await client.delete().key(`${service}/a`);
      await expect.poll(() => api.endpoints(), { timeout: 5_000 }).toEqual([b]);
      for (let i = 0; i < 3; i++) expect(await (await api.fetch("/")).text()).toBe("hello from b\n");

      await client.delete().key(`${service}/b`);
      await expect.poll(() => api.endpoints(), { timeout: 5_000 }).toEqual([]);
      const error = await api.fetch("/").catch((e: unknown) => e);
      expect((error as Error).cause).toBeInstanceOf(NoEndpointsError);
    } finally {
      await dispatcher.close();
    }
  }, 30_000);
});
