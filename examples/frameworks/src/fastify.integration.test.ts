import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import Fastify from "fastify";
import { afterAll, describe, expect, it } from "vitest";
import { listenRegistered } from "./fastify.js";

const etcd = useTestEtcd();
const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function keys(prefix: string): Promise<string[]> {
  return etcd.client().getAll().prefix(prefix).keys();
}

async function waitFor(condition: () => Promise<boolean>, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("Fastify registered on listen", () => {
  it("puts its address once listening; a drain deletes it, serves through the grace period, then closes", async () => {
    const service = `${etcd.namespace}/web`;
    const app = Fastify();
    let releaseSlow: () => void = () => {};
    let slowStarted: () => void = () => {};
    const started = new Promise<void>((resolve) => (slowStarted = resolve));
    app.get("/hello", async () => ({ hello: "world" }));
    app.get("/slow", async () => {
      slowStarted();
      await new Promise<void>((resolve) => (releaseSlow = resolve));
      return { slow: true };
    });
    cleanups.push(() => app.close());
    const { url, drain } = await listenRegistered(
      app,
      { host: "127.0.0.1", port: 0 },
      { client: etcd.client(), service, grace: 300, ttl: 5 },
    );
    const { port } = new URL(url);
    expect(await keys(`${service}/`)).toEqual([`${service}/127.0.0.1:${port}`]);
    expect(await (await fetch(`${url}/hello`)).json()).toEqual({ hello: "world" });

    const slow = fetch(`${url}/slow`);
    await started;
    const drained = drain.drain();
    await waitFor(async () => (await keys(`${service}/`)).length === 0, "the key to go");
    releaseSlow();
    expect(await (await slow).json()).toEqual({ slow: true });
    await drained;
    await expect(fetch(`${url}/hello`)).rejects.toThrow();
  }, 15_000);

  it("app.close() without a signal deletes the key before the server stops", async () => {
    const service = `${etcd.namespace}/web-close`;
    const app = Fastify();
    await listenRegistered(app, { host: "127.0.0.1", port: 0 }, { client: etcd.client(), service, ttl: 5 });
    expect(await keys(`${service}/`)).toHaveLength(1);
    await app.close();
    expect(await keys(`${service}/`)).toEqual([]);
  }, 15_000);
});
