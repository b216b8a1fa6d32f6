// Mass-removal protection against real etcd and real grpc-js servers: one update that removes most of a
// service's keys while its servers still run is held back, and calls keep spreading until the hold ends.
import { greeters } from "@etcd-naming/etcd-fixture/greeter";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import type * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { ProtectedEvent } from "./handle-events.js";
import { type EtcdResolverHandle, registerEtcdResolver } from "./register.js";
import { registerEndpoint } from "./test/registry.js";

vi.setConfig({ testTimeout: 60_000 });

const etcd = useTestEtcd();
const client = etcd.client();
const tracked = greeters();
const HOLD_MS = 3_000;
let handle: EtcdResolverHandle;
const events: ProtectedEvent[] = [];
/** What the logger got: the hold's warning and its end, by level. */
const logged: { level: string; fields: Record<string, unknown>; message: string }[] = [];
const poll = { timeout: 15_000, interval: 50 };
const service = (name: string) => `${etcd.namespace}/${name}`;

beforeAll(() => {
  handle = registerEtcdResolver({
    client,
    protection: { holdMs: HOLD_MS },
    logger: {
      warn: (fields, message) => logged.push({ level: "warn", fields, message }),
      info: (fields, message) => logged.push({ level: "info", fields, message }),
    },
  });
  handle.on("protected", (event) => events.push(event));
});

afterAll(async () => {
  await tracked.close();
  await handle.close();
});

/** Deletes `ids` of `svc` in one transaction: one revision, one watch response. */
async function deleteAtOnce(svc: string, ids: readonly string[]): Promise<number> {
  await client
    .if(`${svc}/~`, "Version", ">", -1)
    .then(...ids.map((id) => client.delete().key(`${svc}/${id}`)))
    .commit();
  return Date.now();
}

async function startService(svc: string, count: number) {
  const servers = await Promise.all(Array.from({ length: count }, (_, i) => tracked.server(`${svc}-${i}`)));
  for (const s of servers) await registerEndpoint(client, svc, s.addr, { id: s.id });
  const channel = tracked.connect(`etcd:///${svc}`, { deadlineMs: 1_000 });
  await expect.poll(async () => (await channel.spread(count * 2)).size, poll).toBe(count);
  return { servers, channel };
}

describe("mass-removal protection", () => {
  it("keeps 9 of 10 deleted keys for the hold, then moves to the one left; no call fails", async () => {
    const svc = service("nine-of-ten");
    const { servers, channel } = await startService(svc, 10);
    const before = events.length;
    const deletedAt = await deleteAtOnce(
      svc,
      servers.slice(1).map((s) => s.id),
    );

    const failures: string[] = [];
    const count = (spread: Map<string, number>) => {
      const errors = spread.get("error") ?? 0;
      if (errors > 0) failures.push(`${errors} failed calls ${Date.now() - deletedAt} ms after the delete`);
      return spread;
    };
    // Well inside the hold, every batch still reaches all ten servers.
    let batches = 0;
    while (Date.now() - deletedAt < HOLD_MS - 1_000) {
      const spread = count(await channel.spread(20));
      expect(spread.size).toBe(10);
      batches++;
    }
    expect(batches).toBeGreaterThan(0);
    expect(events.slice(before)).toEqual([{ service: svc, removed: 9, total: 10, holdMs: HOLD_MS }]);

    // After it, the deletion applies: calls go to the one server left.
    await expect
      .poll(async () => [...count(await channel.spread(10)).keys()], poll)
      .toEqual([servers[0]!.id]);
    expect(Date.now() - deletedAt).toBeGreaterThanOrEqual(HOLD_MS - 100);
    expect(failures).toEqual([]);
    // One event for the hold, however many updates it covered.
    expect(events.slice(before)).toHaveLength(1);
    // And one warning with the same figures, as fields; the end of the hold is news too.
    const mine = logged.filter((line) => line.fields["service"] === svc);
    expect(mine).toEqual([
      {
        level: "warn",
        fields: { component: "grpc-js", service: svc, removed: 9, total: 10, holdMs: HOLD_MS },
        message: expect.stringContaining(`protecting ${svc}`),
      },
      {
        level: "info",
        fields: { component: "grpc-js", service: svc },
        message: expect.stringContaining("hold ended"),
      },
    ]);
  });

  it("reports a service emptied on purpose once the hold is over, and does not hold it again", async () => {
    const svc = service("emptied");
    const { channel } = await startService(svc, 3);
    const before = events.length;
    await client.delete().prefix(`${svc}/`).exec();
    const deletedAt = Date.now();
    // The channel keeps its endpoints for now.
    expect(await channel.whoAmI()).toMatch(/emptied-\d$/);
    await expect
      .poll(
        () =>
          channel.whoAmI().then(
            () => "ok",
            (error: grpc.ServiceError) => error.details,
          ),
        poll,
      )
      .toBe(`no endpoints for ${svc}`);
    expect(Date.now() - deletedAt).toBeGreaterThanOrEqual(HOLD_MS - 100);
    expect(events.slice(before)).toEqual([{ service: svc, removed: 3, total: 3, holdMs: HOLD_MS }]);
    // Still empty, still said at once: nothing more is held.
    const again = Date.now();
    await expect(channel.whoAmI()).rejects.toMatchObject({ details: `no endpoints for ${svc}` });
    expect(Date.now() - again).toBeLessThan(HOLD_MS);
  });

  it("applies the same deletion at once when protection is off", async () => {
    const off = registerEtcdResolver({ client, scheme: "etcd-unprotected", protection: false });
    try {
      const svc = service("unprotected");
      const servers = await Promise.all([0, 1, 2, 3].map((i) => tracked.server(`${svc}-${i}`)));
      for (const s of servers) await registerEndpoint(client, svc, s.addr, { id: s.id });
      const channel = tracked.connect(`etcd-unprotected:///${svc}`, { deadlineMs: 1_000 });
      await expect.poll(async () => (await channel.spread(8)).size, poll).toBe(4);
      const deletedAt = await deleteAtOnce(
        svc,
        servers.slice(1).map((s) => s.id),
      );
      await expect.poll(async () => [...(await channel.spread(4)).keys()], poll).toEqual([servers[0]!.id]);
      expect(Date.now() - deletedAt).toBeLessThan(HOLD_MS);
    } finally {
      await off.close();
    }
  });
});
