import { startEtcd } from "@etcd-naming/etcd-fixture";
import { Etcd3 } from "etcd3";
import { describe, expect, it, vi } from "vitest";
import { register } from "./registration.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const quiet = { warn: () => undefined };

describe("deregister while etcd is briefly unavailable", () => {
  it("retries the delete until etcd answers while another registration keeps the lease alive", async () => {
    await using server = await startEtcd();
    const client = new Etcd3({ hosts: server.endpoints });
    try {
      const ttl = 6;
      const a = await register({ client, service: "svc", addr: "10.0.0.1:80", ttl, logger: quiet });
      const b = await register({ client, service: "svc", addr: "10.0.0.2:80", ttl, logger: quiet });

      server.pause();
      let outcome: unknown = "pending";
      const pending = b.deregister();
      pending.then(
        () => {
          outcome = "resolved";
        },
        (error: unknown) => {
          outcome = error;
        },
      );
      // Longer than a request timeout (TTL/3): at least one delete attempt fails meanwhile.
      await sleep(3000);
      expect(b.deregister()).toBe(pending);
      server.resume();

      await vi.waitFor(() => expect(outcome).not.toBe("pending"), { timeout: 20_000, interval: 50 });
      expect(outcome).toBe("resolved");
      expect(await client.getAll().prefix("svc/").keys()).toEqual(["svc/10.0.0.1:80"]);

      await a.deregister();
      expect(await client.getAll().prefix("svc/").keys()).toEqual([]);
    } finally {
      server.resume();
      client.close();
    }
  }, 40_000);

  it("stops retrying once the last registration goes: the keys expire with the lease", async () => {
    await using server = await startEtcd();
    const client = new Etcd3({ hosts: server.endpoints });
    try {
      const ttl = 3;
      const a = await register({ client, service: "svc", addr: "10.0.0.1:80", ttl, logger: quiet });
      const b = await register({ client, service: "svc", addr: "10.0.0.2:80", ttl, logger: quiet });

      server.pause();
      const first = b.deregister();
      await sleep(1500);
      const last = a.deregister();
      const outcomes = await Promise.allSettled([first, last]);
      server.resume();

      const rejected = { status: "rejected", reason: { code: "ETCD_UNAVAILABLE" } };
      expect(outcomes).toMatchObject([rejected, rejected]);
      await vi.waitFor(async () => expect(await client.getAll().prefix("svc/").keys()).toEqual([]), {
        timeout: (ttl + 5) * 1000,
        interval: 200,
      });
    } finally {
      server.resume();
      client.close();
    }
  }, 40_000);
});
