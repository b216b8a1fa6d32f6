import type { LogFields } from "@etcd-naming/etcd";
import { startEtcd } from "@etcd-naming/etcd-fixture";
import { Etcd3 } from "etcd3";
import { describe, expect, it, vi } from "vitest";
import { register } from "./registration.js";

/** A logger that keeps what it is told, so a test can wait for a failed delete attempt instead of sleeping. */
function recordingLogger() {
  const warnings: string[] = [];
  return { warnings, logger: { warn: (_fields: LogFields, message: string) => void warnings.push(message) } };
}
const failedDelete = (warnings: string[]) => warnings.some((w) => /deleting .* failed, retrying/.test(w));

describe("deregister while etcd is briefly unavailable", () => {
  it("retries the delete until etcd answers while another registration keeps the lease alive", async () => {
    await using server = await startEtcd();
    const client = new Etcd3({ hosts: server.endpoints });
    try {
      const ttl = 6;
      const { warnings, logger } = recordingLogger();
      const a = await register({ client, service: "svc", addr: "10.0.0.1:80", ttl, logger });
      const b = await register({ client, service: "svc", addr: "10.0.0.2:80", ttl, logger });

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
      // At least one delete attempt fails (after a request timeout, TTL/3) while etcd is paused.
      await vi.waitFor(() => expect(failedDelete(warnings)).toBe(true), { timeout: 15_000, interval: 50 });
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
      const { warnings, logger } = recordingLogger();
      const a = await register({ client, service: "svc", addr: "10.0.0.1:80", ttl, logger });
      const b = await register({ client, service: "svc", addr: "10.0.0.2:80", ttl, logger });

      server.pause();
      const first = b.deregister();
      // The first registration's delete has failed once and is being retried when the last one goes.
      await vi.waitFor(() => expect(failedDelete(warnings)).toBe(true), { timeout: 15_000, interval: 50 });
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
