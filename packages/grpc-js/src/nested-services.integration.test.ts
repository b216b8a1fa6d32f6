// Nested services: `etcd:///team` reads every key under `team/`, those of `team/greeter` included, as
// etcd's Go resolver does; `?depth=1` keeps only the service's own keys.
import { greeters } from "@etcd-naming/etcd-fixture/greeter";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type EtcdResolverHandle, registerEtcdResolver } from "./register.js";
import { registerEndpoint } from "./test/registry.js";

vi.setConfig({ testTimeout: 30_000 });

const etcd = useTestEtcd();
const client = etcd.client();
const tracked = greeters();
let handle: EtcdResolverHandle;
const poll = { timeout: 10_000, interval: 50 };

beforeAll(() => {
  handle = registerEtcdResolver({ client });
});

afterAll(async () => {
  await tracked.close();
  await handle.close();
});

describe("nested services", () => {
  it("resolves a nested service's keys by default, and only the service's own with ?depth=1", async () => {
    const team = `${etcd.namespace}/team`;
    const own = await tracked.server("team-own");
    const nested = await tracked.server("team-greeter");
    await registerEndpoint(client, team, own.addr, { id: "own" });
    await registerEndpoint(client, `${team}/greeter`, nested.addr, { id: "nested" });

    const everything = tracked.connect(`etcd:///${team}`);
    const direct = tracked.connect(`etcd:///${team}?depth=1`);
    await expect
      .poll(async () => [...(await everything.spread(6)).keys()].sort(), poll)
      .toEqual(["team-greeter", "team-own"]);
    const counts = await direct.spread(10);
    expect([...counts.entries()]).toEqual([["team-own", 10]]);

    // The depth follows changes like any other selection: a second own endpoint joins, nested ones never.
    const second = await tracked.server("team-own-2");
    await registerEndpoint(client, team, second.addr, { id: "own-2" });
    await expect
      .poll(async () => [...(await direct.spread(6)).keys()].sort(), poll)
      .toEqual(["team-own", "team-own-2"]);
    await client.delete().prefix(`${team}/`).exec();
  });
});
