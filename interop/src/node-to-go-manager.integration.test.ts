// 2. Our registrar and createEndpointManager write → Go's Manager.List returns the same addresses and
//    metadata, and the stored bytes are exactly the bytes Go's Manager writes for the same endpoint. A
//    sibling service whose name extends this one's (`svc-canary`) leaks into etcd 3.4's Go view, not ours.
//    Go 1.22+ spells \b and \f differently from Go 1.19 and our codec; each reads the other's.
import type { Endpoint } from "@etcd-naming/codec";
import { createEndpointManager, type Registration, register } from "@etcd-naming/registrar";
import type { Etcd3 } from "etcd3";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeGoFlavours, runGoManager, runGoResolve } from "./suite.js";

type Listed = Record<string, { addr: string; metadata: unknown }>;

// Metadata that exercises Go's encoder: key order, HTML escaping, non-ASCII, numbers, nesting, absence.
const cases: { id: string; endpoint: Endpoint }[] = [
  { id: "plain", endpoint: { addr: "10.0.0.1:50051" } },
  { id: "null", endpoint: { addr: "10.0.0.2:50051", metadata: null } },
  { id: "string", endpoint: { addr: "10.0.0.3:50051", metadata: "zone=eu;weight=3" } },
  { id: "html", endpoint: { addr: "10.0.0.4:50051", metadata: "<a&b> \u2028" } },
  { id: "unicode", endpoint: { addr: "[2001:db8::1]:443", metadata: "zone-é-東京 😀" } },
  {
    id: "object",
    endpoint: { addr: "10.0.0.5:8080", metadata: { zone: "a", weight: 3, version: "v2", Ärger: true } },
  },
  {
    id: "nested",
    endpoint: { addr: "unix:///tmp/x.sock", metadata: { labels: { tier: "gold" }, ports: [1, 2] } },
  },
  { id: "numbers", endpoint: { addr: "h:1", metadata: [0.1, 1e21, 1e-7, 123456789012, -2.5e-300] } },
  { id: "bool", endpoint: { addr: "h:2", metadata: false } },
];

describeGoFlavours("our writers → Go's endpoints.Manager", { timeout: 30_000 }, ({ flavour, etcd, go }) => {
  let client: Etcd3;
  beforeAll(() => {
    client = etcd.client();
  });
  const registrations: Registration[] = [];

  afterAll(async () => {
    await Promise.all(registrations.map((r) => r.deregister()));
  });

  const goManager = (service: string, op: string, request?: unknown) =>
    runGoManager({ etcd, go }, service, op, request);
  const goList = async (service: string) =>
    ((await goManager(service, "list")) as { endpoints: Listed }).endpoints;
  const stored = async (key: string) => {
    const value = await client.get(key).buffer();
    if (value === null) throw new Error(`${key} is not in etcd`);
    return value;
  };

  /** Has Go's own Manager write the same endpoints under `goService` and compares the bytes key by key. */
  async function expectGoBytes(service: string, goService: string, ids: string[]): Promise<void> {
    await goManager(
      goService,
      "update",
      ids.map((id) => {
        const { endpoint } = cases.find((c) => c.id === id)!;
        return {
          op: 0,
          key: `${goService}/${id}`,
          addr: endpoint.addr,
          metadata: endpoint.metadata ?? null,
        };
      }),
    );
    for (const id of ids) {
      const ours = await stored(`${service}/${id}`);
      const theirs = await stored(`${goService}/${id}`);
      expect({ id, value: ours.toString("utf8") }).toEqual({ id, value: theirs.toString("utf8") });
      expect(ours.equals(theirs)).toBe(true);
    }
  }

  const expected = (service: string, ids: string[]): Listed =>
    Object.fromEntries(
      ids.map((id) => {
        const { endpoint } = cases.find((c) => c.id === id)!;
        return [`${service}/${id}`, { addr: endpoint.addr, metadata: endpoint.metadata ?? null }];
      }),
    );

  it("createEndpointManager: update in one transaction, addEndpoint, deleteEndpoint", async () => {
    const service = `${etcd.namespace}/node-manager`;
    const manager = createEndpointManager(client, service, { logger: { warn: () => {} } });
    await manager.update(
      cases.map(({ id, endpoint }) => ({ op: 0 as const, key: `${service}/${id}`, endpoint })),
    );
    expect(await goList(service)).toEqual(
      expected(
        service,
        cases.map((c) => c.id),
      ),
    );
    await expectGoBytes(
      service,
      `${etcd.namespace}/go-manager`,
      cases.map((c) => c.id),
    );

    await manager.deleteEndpoint(`${service}/plain`);
    await manager.update([
      { op: 1, key: `${service}/null` },
      { op: 1, key: `${service}/numbers` },
    ]);
    await manager.addEndpoint(`${service}/again`, { addr: "10.0.0.9:1", metadata: "back" });
    const remaining = cases.map((c) => c.id).filter((id) => !["plain", "null", "numbers"].includes(id));
    expect(await goList(service)).toEqual({
      ...expected(service, remaining),
      [`${service}/again`]: { addr: "10.0.0.9:1", metadata: "back" },
    });
  });

  it("register(): leased keys Go lists like its own, byte for byte", async () => {
    const service = `${etcd.namespace}/node-registrar`;
    const ids = ["string", "object", "unicode"];
    for (const id of ids) {
      const { endpoint } = cases.find((c) => c.id === id)!;
      registrations.push(
        await register({
          client,
          service,
          addr: endpoint.addr,
          metadata: endpoint.metadata,
          key: `${service}/${id}`,
          ttl: 10,
          logger: { warn: () => {} },
        }),
      );
    }
    expect(await goList(service)).toEqual(expected(service, ids));
    await expectGoBytes(service, `${etcd.namespace}/go-registrar`, ids);

    // setMetadata rewrites the value; Go sees the change.
    await registrations[0]!.setMetadata("zone=us");
    expect((await goList(service))[`${service}/string`]).toEqual({
      addr: "10.0.0.3:50051",
      metadata: "zone=us",
    });

    // Deregistering removes it from Go's view at once.
    await registrations[1]!.deregister();
    expect(Object.keys(await goList(service)).sort()).toEqual([`${service}/string`, `${service}/unicode`]);
  });

  const siblingVerdict = flavour.managerReadsSiblings ? "read" : "leave out";
  it(`a sibling service (svc-canary): Go's Manager and resolver ${siblingVerdict} its endpoints, ours never`, async () => {
    const service = `${etcd.namespace}/sibling/svc`;
    const sibling = `${service}-canary`;
    const ours = createEndpointManager(client, service);
    await ours.addEndpoint(`${service}/a`, { addr: "10.0.1.1:1", metadata: "m" });
    await createEndpointManager(client, sibling).addEndpoint(`${sibling}/b`, { addr: "10.0.1.2:1" });
    const own: Listed = { [`${service}/a`]: { addr: "10.0.1.1:1", metadata: "m" } };
    const goView: Listed = flavour.managerReadsSiblings
      ? { ...own, [`${sibling}/b`]: { addr: "10.0.1.2:1", metadata: null } }
      : own;

    expect(await goList(service)).toEqual(goView);
    // Go's resolver hands grpc-go the same set (in State.Addresses on 3.4, State.Endpoints on 3.5).
    const state = (await runGoResolve({ etcd, go }, service)) as {
      addresses: { addr: string }[];
      endpoints: { addr: string }[][];
    };
    expect([...state.addresses, ...state.endpoints.flat()].map((a) => a.addr).sort()).toEqual(
      Object.values(goView)
        .map((e) => e.addr)
        .sort(),
    );
    expect([...(await ours.list()).keys()]).toEqual([`${service}/a`]);
  });

  const escapes = flavour.goShortEscapes ? String.raw`\b and \f` : String.raw`\u0008 and \u000c as we do`;
  it(`backspace, form feed: Go ${flavour.expected.go} writes ${escapes}; each side reads the other's`, async () => {
    const service = `${etcd.namespace}/control-ours`;
    const goService = `${etcd.namespace}/control-go`;
    const metadata = "a\bb\fc";
    await createEndpointManager(client, service).addEndpoint(`${service}/x`, { addr: "h:3", metadata });
    await goManager(goService, "add", { key: `${goService}/x`, addr: "h:3", metadata });

    expect((await stored(`${service}/x`)).toString("utf8")).toBe(
      String.raw`{"Op":0,"Addr":"h:3","Metadata":"a\u0008b\u000cc"}`,
    );
    expect((await stored(`${goService}/x`)).toString("utf8")).toBe(
      flavour.goShortEscapes
        ? String.raw`{"Op":0,"Addr":"h:3","Metadata":"a\bb\fc"}`
        : String.raw`{"Op":0,"Addr":"h:3","Metadata":"a\u0008b\u000cc"}`,
    );
    expect(await goList(service)).toEqual({ [`${service}/x`]: { addr: "h:3", metadata } });
    const theirs = await createEndpointManager(client, goService).list();
    expect(Object.fromEntries(theirs)).toEqual({ [`${goService}/x`]: { addr: "h:3", metadata } });
  });
});
