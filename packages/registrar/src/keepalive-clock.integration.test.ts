import { createManualClock, MemberRouter } from "@etcd-naming/etcd";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import { describe, expect, it, vi } from "vitest";
import { register } from "./registration.js";
import { leaseTimeToLive } from "./test/etcdctl.js";

// The keep-alive cadence and loss detection run on an injected clock; etcd is real.
const etcd = useTestEtcd();

function countKeepAliveWrites(client: ReturnType<typeof etcd.client>): { writes: string[] } {
  const seen = { writes: [] as string[] };
  const original = MemberRouter.prototype.openKeepAlive;
  vi.spyOn(MemberRouter.prototype, "openKeepAlive").mockImplementation(async function (this: MemberRouter) {
    const opened = await original.call(this);
    if (this.client !== client) return opened;
    const { stream } = opened;
    const write = stream.write.bind(stream);
    stream.write = ((request: { ID: string }) => {
      seen.writes.push(String(request.ID));
      return write(request);
    }) as typeof stream.write;
    return opened;
  });
  return seen;
}

describe("keep-alive on an injected clock", () => {
  it("sends one keep-alive every TTL/3 and keeps the lease while they succeed", async () => {
    const clock = createManualClock();
    const client = etcd.client();
    const seen = countKeepAliveWrites(client);
    const reg = await register({
      client,
      service: `${etcd.namespace}/ka`,
      addr: "10.0.0.1:1",
      ttl: 9,
      clock,
    });
    const lost: unknown[] = [];
    reg.on("lost", (e) => lost.push(e));

    clock.advance(2999);
    expect(seen.writes).toHaveLength(0);
    for (let i = 1; i <= 6; i++) {
      clock.advance(i === 1 ? 1 : 3000);
      await vi.waitFor(() => expect(seen.writes).toHaveLength(i), { timeout: 2000, interval: 5 });
      // Let the answer arrive before time moves on, as it would in real time.
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(new Set(seen.writes)).toEqual(new Set([reg.leaseId]));
    expect(lost).toEqual([]);
    expect((await leaseTimeToLive(etcd.endpoints, reg.leaseId)).keys).toEqual([reg.key]);
    await reg.deregister();
  });

  it("declares the lease lost when no keep-alive succeeds within the TTL, then re-registers", async () => {
    const clock = createManualClock();
    const client = etcd.client();
    const reg = await register({
      client,
      service: `${etcd.namespace}/ka2`,
      addr: "10.0.0.2:1",
      ttl: 9,
      clock,
    });
    const oldLease = reg.leaseId;
    const events: string[] = [];
    reg.on("lost", (e) => events.push(`lost:${e.code}`));
    reg.on("reregistered", (id) => events.push(`reregistered:${id}`));

    // A whole TTL passes in one step: the keep-alives are sent but no answer can arrive in time.
    clock.advance(9000);
    await vi.waitFor(() => expect(events).toHaveLength(2), { timeout: 3000, interval: 5 });
    expect(events[0]).toBe("lost:LEASE_LOST");
    expect(events[1]).toBe(`reregistered:${reg.leaseId}`);
    expect(reg.leaseId).not.toBe(oldLease);
    expect((await leaseTimeToLive(etcd.endpoints, reg.leaseId)).keys).toEqual([reg.key]);
    // The abandoned lease is revoked, not left to expire.
    await vi.waitFor(async () => expect((await leaseTimeToLive(etcd.endpoints, oldLease)).ttl).toBe(-1), {
      timeout: 3000,
      interval: 20,
    });
    await reg.deregister();
    expect(await client.get(reg.key).string()).toBeNull();
  });

  it("names what the keep-alives last ran into when it declares the lease lost", async () => {
    const clock = createManualClock();
    const client = etcd.client();
    const reg = await register({
      client,
      service: `${etcd.namespace}/ka3`,
      addr: "10.0.0.3:1",
      ttl: 9,
      clock,
    });
    const refused = new Error(
      "14 UNAVAILABLE: the client certificate CN=app expired at 2026-01-01T00:00:00.000Z; etcd at 127.0.0.1:2379 refused the TLS handshake (alert certificate expired)",
    );
    const original = MemberRouter.prototype.openKeepAlive;
    vi.spyOn(MemberRouter.prototype, "openKeepAlive").mockImplementation(async function (this: MemberRouter) {
      if (this.client === client) throw refused;
      return original.call(this);
    });
    const lost: { message: string; cause: unknown }[] = [];
    reg.on("lost", (e) => lost.push({ message: e.message, cause: e.cause }));
    // The first tick tries to open a keep-alive stream and is refused; then a whole TTL passes.
    clock.advance(3000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    clock.advance(6000);
    await vi.waitFor(() => expect(lost).toHaveLength(1), { timeout: 3000, interval: 5 });
    expect(lost[0]!.message).toMatch(
      /^lease [0-9a-f]{16} was lost \(no successful keep-alive within the TTL; last error: 14 UNAVAILABLE: the client certificate CN=app expired at \S+; etcd at 127\.0\.0\.1:2379 refused the TLS handshake \(alert certificate expired\)\); re-registering$/,
    );
    expect(lost[0]!.cause).toBe(refused);
    vi.restoreAllMocks();
    await reg.deregister().catch(() => {});
  });
});
