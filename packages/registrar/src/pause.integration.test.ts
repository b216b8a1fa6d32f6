// Pause and resume (issue 17, item 4): a paused endpoint's key is deleted, so Node and Go clients stop
// picking it, while the process, the lease and its keep-alive stay; a marker on the lease records the
// pause. Real etcd, real grpc-js servers and a channel through the etcd: resolver.
import { decodePauseMarker, PAUSE_MARKER_ROOT, pauseMarkerKey } from "@etcd-naming/codec";
import { createManualClock } from "@etcd-naming/etcd";
import { type GreeterClient, type GreeterServer, greeters } from "@etcd-naming/etcd-fixture/greeter";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import { type EtcdResolverHandle, registerEtcdResolver } from "@etcd-naming/grpc-js";
import type { Etcd3 } from "etcd3";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { drainOnSignals } from "./drain.js";
import { register } from "./registration.js";
import { leaseTimeToLive } from "./test/etcdctl.js";

vi.setConfig({ testTimeout: 30_000 });

const etcd = useTestEtcd();
const tracked = greeters();
const poll = { timeout: 5_000, interval: 10 };
const quiet = { warn: () => undefined };
let client: Etcd3;
let handle: EtcdResolverHandle;
let count = 0;
const newService = (name: string) => `${etcd.namespace}/${name}-${count++}`;

beforeAll(() => {
  client = etcd.client();
  handle = registerEtcdResolver({ client: etcd.client() });
});

afterAll(async () => {
  await tracked.close();
  await handle.close();
  // Markers live outside the namespace the fixture cleans; every test removes its own, this is a net.
  await etcd.client().delete().prefix(`${PAUSE_MARKER_ROOT}${etcd.namespace}/`).exec();
});

/** Two servers registered under one service (one lease), and a channel that reaches both. */
async function twoServers(name: string) {
  const service = newService(name);
  const a = await tracked.server(`${name}-a`);
  const b = await tracked.server(`${name}-b`);
  const regA = await register({ client, service, addr: a.addr, ttl: 5, logger: quiet });
  const regB = await register({ client, service, addr: b.addr, ttl: 5, logger: quiet });
  const channel = tracked.connect(`etcd:///${service}`);
  await expect.poll(async () => (await channel.spread(6)).size, poll).toBe(2);
  return { service, a, b, regA, regB, channel };
}

/**
 * Waits (within a deadline) until `server` no longer answers calls through `channel`, then checks that a
 * further 30 calls all go elsewhere: returns how long the wait took.
 */
async function expectNoMoreCalls(channel: GreeterClient, server: GreeterServer): Promise<number> {
  const start = performance.now();
  await expect.poll(async () => (await channel.spread(4)).has(server.id), poll).toBe(false);
  const waited = performance.now() - start;
  const before = server.calls;
  const later = await channel.spread(30);
  expect(later.has(server.id)).toBe(false);
  expect(later.has("error")).toBe(false);
  expect(server.calls).toBe(before);
  return waited;
}

const markerOf = async (key: string) => {
  const kv = await client.get(pauseMarkerKey(key)).exec();
  const first = kv.kvs[0];
  return first === undefined ? undefined : { marker: decodePauseMarker(first.value), lease: first.lease };
};

describe("pause and resume through the registrar", () => {
  it("a paused server gets no new calls while its process and lease stay; resume brings calls back", async () => {
    const { a, b, regA, regB, channel } = await twoServers("api");
    const events: string[] = [];
    regA.on("paused", () => events.push("paused"));
    regA.on("resumed", () => events.push("resumed"));
    const value = await client.get(regA.key).string();
    const lease = regA.leaseId;

    const pausing = performance.now();
    await regA.pause();
    const written = performance.now() - pausing;
    expect(regA.paused).toBe(true);
    expect(await client.get(regA.key).string()).toBeNull();
    const waited = await expectNoMoreCalls(channel, a);
    console.info(
      `[registrar] pause written in ${written.toFixed(0)} ms; the channel stopped calling within ${waited.toFixed(0)} ms after`,
    );

    // The process still serves (a direct call answers), the lease is alive and carries the marker.
    const direct = tracked.connect(a.addr);
    expect(await direct.whoAmI()).toBe(a.id);
    expect(regA.leaseId).toBe(lease);
    const ttl = await leaseTimeToLive(etcd.endpoints, lease);
    expect(ttl.ttl).toBeGreaterThan(0);
    expect(ttl.keys.sort()).toEqual([pauseMarkerKey(regA.key), regB.key].sort());
    expect(await markerOf(regA.key)).toEqual({ marker: { state: "paused", value }, lease });
    await vi.waitFor(() => expect(events).toEqual(["paused"]));

    // Pausing again changes nothing in etcd.
    const revision = (await client.get(regA.key).exec()).header.revision;
    await regA.pause();
    expect((await client.get(regA.key).exec()).header.revision).toBe(revision);

    await regA.resume();
    expect(regA.paused).toBe(false);
    expect(await client.get(regA.key).string()).toBe(value);
    expect(await markerOf(regA.key)).toBeUndefined();
    expect(regA.leaseId).toBe(lease);
    expect((await leaseTimeToLive(etcd.endpoints, lease)).keys.sort()).toEqual([regA.key, regB.key].sort());
    await expect.poll(async () => (await channel.spread(6)).has(a.id), poll).toBe(true);
    await vi.waitFor(() => expect(events).toEqual(["paused", "resumed"]));
    expect(b.calls).toBeGreaterThan(0);

    // Resuming a served registration is a no-op too.
    const served = (await client.get(regA.key).exec()).kvs[0]?.mod_revision;
    await regA.resume();
    expect((await client.get(regA.key).exec()).kvs[0]?.mod_revision).toBe(served);

    await regA.deregister();
    await regB.deregister();
  });

  it("stays paused through a metadata change and a lost lease, and deregistering removes the marker", async () => {
    const service = newService("loss");
    const reg = await register({ client, service, addr: "10.0.0.1:1", ttl: 3, attributes: { zone: "a" } });
    await reg.pause();
    await reg.setAttributes({ zone: "b" });
    expect(await client.get(reg.key).string()).toBeNull();
    expect((await markerOf(reg.key))?.marker).toEqual({
      state: "paused",
      value: '{"Op":0,"Addr":"10.0.0.1:1","Metadata":"zone=b"}',
    });

    // The lease is revoked from outside: its marker goes with it; the registrar re-grants and re-puts the
    // marker, not the key.
    const oldLease = reg.leaseId;
    const reregistered = new Promise<string>((resolve) => reg.once("reregistered", resolve));
    await client.leaseClient.leaseRevoke({ ID: oldLease });
    const newLease = await reregistered;
    expect(newLease).not.toBe(oldLease);
    await expect.poll(() => markerOf(reg.key), poll).toMatchObject({ lease: newLease });
    expect(await client.get(reg.key).string()).toBeNull();
    expect(reg.paused).toBe(true);

    await reg.resume();
    expect(await client.get(reg.key).string()).toBe('{"Op":0,"Addr":"10.0.0.1:1","Metadata":"zone=b"}');
    expect((await client.get(reg.key).exec()).kvs[0]?.lease).toBe(newLease);

    await reg.pause();
    await reg.deregister();
    expect(await markerOf(reg.key)).toBeUndefined();
    expect(await client.get(reg.key).string()).toBeNull();
    await expect(reg.pause()).rejects.toMatchObject({ code: "DEREGISTERED" });
  });

  it("another process pauses and resumes through the marker; markers of other keys are ignored", async () => {
    const { a, regA, regB, channel } = await twoServers("marker");
    const events: string[] = [];
    regA.on("paused", () => events.push("paused"));
    regA.on("resumed", () => events.push("resumed"));
    const lease = regA.leaseId;

    // What `etcd-naming pause` writes: a marker on the endpoint's lease.
    await client.put(pauseMarkerKey(regA.key)).value('{"state":"paused"}').lease(lease).exec();
    await vi.waitFor(() => expect(events).toEqual(["paused"]), poll);
    expect(regA.paused).toBe(true);
    expect(await client.get(regA.key).string()).toBeNull();
    await expectNoMoreCalls(channel, a);
    // The registrar rewrote the marker with the endpoint's value.
    expect((await markerOf(regA.key))?.marker).toMatchObject({ state: "paused", value: expect.any(String) });

    // A marker for a key this process does not hold, and a garbage marker, change nothing.
    await client
      .put(pauseMarkerKey(`${regA.service}/other`))
      .value('{"state":"paused"}')
      .exec();
    await client.put(pauseMarkerKey(regB.key)).value("paused, please").lease(lease).exec();
    const warnings: string[] = [];
    regB.on("error", (e) => warnings.push(e.message));

    await client.put(pauseMarkerKey(regA.key)).value('{"state":"resumed"}').lease(lease).exec();
    await vi.waitFor(() => expect(events).toEqual(["paused", "resumed"]), poll);
    await expect.poll(() => client.get(regA.key).string(), poll).not.toBeNull();
    await expect.poll(() => markerOf(regA.key), poll).toBeUndefined();
    await expect.poll(async () => (await channel.spread(6)).has(a.id), poll).toBe(true);
    // Events arrive in revision order: the garbage marker was seen before the resume, and ignored.
    expect(regB.paused).toBe(false);
    expect(await client.get(regB.key).string()).not.toBeNull();
    expect(warnings).toEqual([]);
    await client.delete().key(pauseMarkerKey(regB.key)).exec();

    await client
      .delete()
      .key(pauseMarkerKey(`${regA.service}/other`))
      .exec();
    await regA.deregister();
    await regB.deregister();
  });

  it("a hand-deleted key of a served registration is still put back, a paused one's stays away", async () => {
    const service = newService("handdel");
    const reg = await register({ client, service, addr: "10.0.0.2:1", ttl: 5 });
    await client.delete().key(reg.key).exec();
    await expect.poll(() => client.get(reg.key).string(), poll).not.toBeNull();
    await reg.pause();
    // Another write of the service wakes the delete watch: the paused key is not put back meanwhile.
    const other = await register({ client, service, addr: "10.0.0.3:1", ttl: 5 });
    await client.delete().key(other.key).exec();
    await expect.poll(() => client.get(other.key).string(), poll).not.toBeNull();
    expect(await client.get(reg.key).string()).toBeNull();
    await reg.deregister();
    await other.deregister();
  });
});

describe("attributes option", () => {
  it("writes the attribute string, and setAttributes replaces it", async () => {
    const service = newService("attrs");
    const warnings: string[] = [];
    const reg = await register({
      client,
      service,
      addr: "10.0.0.9:1",
      ttl: 5,
      attributes: { zone: "eu 1", weight: "3" },
      logger: { warn: (_fields, m) => warnings.push(m) },
    });
    expect(await client.get(reg.key).string()).toBe(
      '{"Op":0,"Addr":"10.0.0.9:1","Metadata":"weight=3;zone=eu%201"}',
    );
    expect({ ...reg.attributes }).toEqual({ zone: "eu 1", weight: "3" });
    expect(reg.metadata).toBe("weight=3;zone=eu%201");
    await reg.setAttributes({ zone: "b" });
    expect(await client.get(reg.key).string()).toBe('{"Op":0,"Addr":"10.0.0.9:1","Metadata":"zone=b"}');
    expect(warnings).toEqual([]);
    await reg.deregister();
  });

  it("refuses attributes with metadata, and bad attributes, before writing anything", async () => {
    const service = newService("bad-attrs");
    await expect(
      register({ client, service, addr: "10.0.0.9:1", metadata: "x", attributes: { zone: "a" } }),
    ).rejects.toMatchObject({
      code: "INVALID_INPUT",
      message: expect.stringContaining("pass either metadata or attributes, not both"),
    });
    await expect(
      register({ client, service, addr: "10.0.0.9:1", attributes: { "my zone": "a" } }),
    ).rejects.toMatchObject({
      code: "INVALID_INPUT",
      message: expect.stringMatching(/invalid attributes: .*"my zone"/),
    });
    await expect(
      register({ client, service, addr: "10.0.0.9:1", attributes: { weight: 3 as unknown as string } }),
    ).rejects.toMatchObject({ code: "INVALID_INPUT", message: expect.stringContaining('write "3"') });
    expect(await client.getAll().prefix(`${service}/`).keys()).toEqual([]);
  });
});

describe("drain uses pause", () => {
  it("pauses first, keeps the lease through the grace period, then deregisters and closes", async () => {
    const { a, regA, regB, channel } = await twoServers("drain");
    const clock = createManualClock();
    const closed: string[] = [];
    const drain = drainOnSignals(regA, {
      signals: ["SIGUSR2"],
      grace: 10_000,
      clock,
      close: () => closed.push("closed"),
    });
    const lease = regA.leaseId;
    void drain.drain();
    // During the grace period: no key, the marker on the live lease, no new calls, the server up.
    await expect.poll(() => markerOf(regA.key), poll).toMatchObject({ marker: { state: "paused" } });
    expect(await client.get(regA.key).string()).toBeNull();
    await expectNoMoreCalls(channel, a);
    expect((await leaseTimeToLive(etcd.endpoints, lease)).ttl).toBeGreaterThan(0);
    expect(closed).toEqual([]);

    clock.advance(10_000);
    await drain.drained;
    expect(closed).toEqual(["closed"]);
    expect(regA.deregistered).toBe(true);
    expect(await markerOf(regA.key)).toBeUndefined();
    // regB shares the lease, so it stays; its key is untouched.
    expect((await leaseTimeToLive(etcd.endpoints, lease)).keys).toEqual([regB.key]);
    await regB.deregister();
  });
});
