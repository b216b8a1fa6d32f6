// Filters (`etcd:///svc?zone=a`) match endpoint attributes in both metadata forms: the attribute string
// that every Go resolver can carry (`"zone=a;weight=3"`) and a JSON object's fields.
import { formatAttributes } from "@etcd-naming/codec";
import { greeters } from "@etcd-naming/etcd-fixture/greeter";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type EtcdResolverHandle, registerEtcdResolver } from "./register.js";
import { registerEndpoint } from "./test/registry.js";

vi.setConfig({ testTimeout: 20_000 });

const etcd = useTestEtcd();
const client = etcd.client();
const tracked = greeters();
const poll = { timeout: 10_000, interval: 50 };
let handle: EtcdResolverHandle;
const warnings: string[] = [];

beforeAll(() => {
  handle = registerEtcdResolver({ client, logger: { warn: (_fields, message) => warnings.push(message) } });
});

afterAll(async () => {
  await tracked.close();
  await handle.close();
});

/**
 * Waits until calls through a new channel for `target` are answered by exactly `ids` (round_robin sends the
 * first calls to whichever subchannel is ready first), then checks a further batch stays within them.
 */
async function expectAnswering(target: string, ids: string[]): Promise<void> {
  const greeter = tracked.connect(target);
  await expect.poll(async () => [...(await greeter.spread(8)).keys()].sort(), poll).toEqual(ids);
  expect([...(await greeter.spread(12)).keys()].sort()).toEqual(ids);
}

describe("metadata filters over attributes", () => {
  it("match the attribute string and object metadata alike, through a real channel", async () => {
    const svc = `${etcd.namespace}/zones`;
    const [aString, aObject, bString, plain, broken] = await Promise.all(
      ["a-string", "a-object", "b-string", "plain", "broken"].map((id) => tracked.server(id)),
    );
    await registerEndpoint(client, svc, aString!.addr, {
      metadata: formatAttributes({ zone: "a", weight: "3" }),
    });
    await registerEndpoint(client, svc, aObject!.addr, { metadata: { zone: "a", weight: 1 } });
    await registerEndpoint(client, svc, bString!.addr, { metadata: "zone=b" });
    await registerEndpoint(client, svc, plain!.addr, { metadata: "v1" });
    await registerEndpoint(client, svc, broken!.addr, { metadata: "zone=a;" });

    const all = tracked.connect(`etcd:///${svc}`);
    await expect.poll(async () => (await all.spread(10)).size, poll).toBe(5);

    const zoneA = tracked.connect(`etcd:///${svc}?zone=a`);
    await expect
      .poll(async () => [...(await zoneA.spread(8)).keys()].sort(), poll)
      .toEqual(["a-object", "a-string"]);
    // Their weights, 3 and 1, split the calls (the weighted policy, chosen because they carry weights).
    const counts = await zoneA.spread(20);
    expect(counts).toEqual(
      new Map([
        ["a-string", 15],
        ["a-object", 5],
      ]),
    );

    await expectAnswering(`etcd:///${svc}?zone=a&weight=3`, ["a-string"]);
    await expectAnswering(`etcd:///${svc}?weight=1`, ["a-object"]);
    await expectAnswering(`etcd:///${svc}?zone=b`, ["b-string"]);

    // Moving an endpoint to another zone (object → string form) moves it between the filtered channels.
    await registerEndpoint(client, svc, aObject!.addr, { metadata: formatAttributes({ zone: "b" }) });
    await expect.poll(async () => [...(await zoneA.spread(8)).keys()], poll).toEqual(["a-string"]);
    await expectAnswering(`etcd:///${svc}?zone=b`, ["a-object", "b-string"]);

    // "zone=a;" tries to be an attribute string and is not one: it resolves unfiltered, matches no
    // filter, and the watcher says why once. "v1" is plain text, as Go fleets write it: no warning.
    expect(warnings.filter((w) => w.includes(`${svc}/${broken!.addr}`))).toEqual([
      expect.stringContaining("malformed attribute string"),
    ]);
    expect(warnings.filter((w) => w.includes(`${svc}/${plain!.addr}`))).toEqual([]);
  });

  it("compare percent-decoded values: the query's encoding and the attribute string's meet in the middle", async () => {
    const svc = `${etcd.namespace}/encoded`;
    const [spaced, other] = await Promise.all(["spaced", "other"].map((id) => tracked.server(id)));
    await registerEndpoint(client, svc, spaced!.addr, {
      metadata: formatAttributes({ team: "a b;c", city: "東京" }),
    });
    await registerEndpoint(client, svc, other!.addr, { metadata: formatAttributes({ team: "a" }) });
    const target = `etcd:///${svc}?team=${encodeURIComponent("a b;c")}&city=${encodeURIComponent("東京")}`;
    const greeter = tracked.connect(target);
    await expect.poll(async () => [...(await greeter.spread(6)).keys()], poll).toEqual(["spaced"]);
  });
});
