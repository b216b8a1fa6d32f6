import { startEtcd } from "@etcd-naming/etcd-fixture";
import { Etcd3 } from "etcd3";
import { describe, expect, it, vi } from "vitest";
import { registrarClientOptions } from "./client-options.js";
import type { RegistrarError } from "./errors.js";
import { register } from "./registration.js";
import { etcdctl, hexLease, leaseTimeToLive } from "./test/etcdctl.js";

describe("lease lost (behaviour 3)", () => {
  it("re-grants and re-puts after the lease is revoked from outside with etcdctl", async () => {
    await using server = await startEtcd();
    const client = new Etcd3({ hosts: server.endpoints });
    try {
      const reg = await register({ client, service: "svc", addr: "10.0.0.1:80", ttl: 3 });
      const oldLease = reg.leaseId;
      const oldHex = reg.leaseIdHex;
      expect(oldHex).toBe(BigInt(oldLease).toString(16).padStart(16, "0"));
      const lost: RegistrarError[] = [];
      const reregistered: string[] = [];
      reg.on("lost", (e) => lost.push(e));
      reg.on("reregistered", (id) => reregistered.push(id));

      const revokedAt = performance.now();
      await etcdctl(server.endpoints, ["lease", "revoke", hexLease(oldLease)]);
      await vi.waitFor(() => expect(reregistered).toHaveLength(1), { timeout: 5000, interval: 10 });
      console.info(`[registrar] revoke -> reregistered: ${(performance.now() - revokedAt).toFixed(0)} ms`);

      expect(lost).toHaveLength(1);
      expect(lost[0]?.code).toBe("LEASE_LOST");
      // Hex, as etcdctl prints it and as the revoke above took it; never the decimal form.
      expect(lost[0]?.message).toMatch(new RegExp(`^lease ${oldHex} was lost`));
      expect(lost[0]?.message).not.toContain(oldLease);
      expect(reregistered[0]).toBe(reg.leaseId);
      expect(reg.leaseId).not.toBe(oldLease);
      expect((await leaseTimeToLive(server.endpoints, reg.leaseId)).keys).toEqual(["svc/10.0.0.1:80"]);
      expect(await client.getAll().prefix("svc/").keys()).toEqual(["svc/10.0.0.1:80"]);

      await reg.deregister();
      expect(await client.getAll().prefix("svc/").keys()).toEqual([]);
    } finally {
      client.close();
    }
  }, 20_000);

  it("re-registers within about TTL/3 once etcd is back after an outage longer than the TTL", async () => {
    await using server = await startEtcd();
    // etcd3's default circuit breaker alone holds recovery back for up to 5 s (see the README).
    const client = new Etcd3({ hosts: server.endpoints, ...registrarClientOptions() });
    try {
      const ttl = 3;
      const regs = await Promise.all([
        register({ client, service: "a", addr: "10.0.0.1:80", ttl }),
        register({ client, service: "b", addr: "10.0.0.2:80", ttl }),
      ]);
      const oldLease = regs[0]!.leaseId;
      const events: string[] = [];
      for (const reg of regs) {
        reg.on("lost", () => events.push(`lost ${reg.key}`));
        reg.on("reregistered", () => events.push(`reregistered ${reg.key}`));
      }

      await server.stop();
      await vi.waitFor(() => expect(events.filter((e) => e.startsWith("lost"))).toHaveLength(2), {
        timeout: (ttl + 2) * 1000,
        interval: 50,
      });
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const startingAt = performance.now();
      await server.start();
      const backAt = performance.now();
      await vi.waitFor(() => expect(events.filter((e) => e.startsWith("rereg"))).toHaveLength(2), {
        timeout: 10_000,
        interval: 10,
      });
      const recoveryMs = performance.now() - backAt;
      console.info(
        `[registrar] etcd healthy -> both keys re-registered: ${recoveryMs.toFixed(0)} ms; ` +
          `from etcd start() call: ${(performance.now() - startingAt).toFixed(0)} ms (TTL ${ttl}s)`,
      );
      // The issue asks for about TTL/3 (1 s here); the bound leaves room for a loaded CI machine.
      expect(recoveryMs).toBeLessThan(ttl * 1000);

      const newLease = regs[0]!.leaseId;
      expect(newLease).not.toBe(oldLease);
      expect(regs[1]!.leaseId).toBe(newLease);
      expect((await leaseTimeToLive(server.endpoints, newLease)).keys.sort()).toEqual([
        "a/10.0.0.1:80",
        "b/10.0.0.2:80",
      ]);
      // etcd restores the old lease on restart; the registrar revokes it, so nothing stale is left.
      await vi.waitFor(async () => expect((await leaseTimeToLive(server.endpoints, oldLease)).ttl).toBe(-1), {
        timeout: 5000,
        interval: 100,
      });
      expect(await client.getAll().prefix("a/").keys()).toEqual(["a/10.0.0.1:80"]);
      expect(await client.getAll().prefix("b/").keys()).toEqual(["b/10.0.0.2:80"]);

      // Still kept alive afterwards.
      await new Promise((resolve) => setTimeout(resolve, ttl * 1000 + 500));
      expect((await leaseTimeToLive(server.endpoints, newLease)).keys).toHaveLength(2);
      await Promise.all(regs.map((r) => r.deregister()));
    } finally {
      client.close();
    }
  }, 40_000);
});
