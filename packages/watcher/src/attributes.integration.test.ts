import {
  encodeEndpoint,
  encodePauseMarker,
  formatAttributes,
  PAUSE_MARKER_ROOT,
  pauseMarkerKey,
} from "@etcd-naming/codec";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import { afterAll, describe, expect, it } from "vitest";
import { createEtcd3Source } from "./etcd3-source.js";
import type { ServiceEndpoint, WatcherLogger } from "./service-watcher.js";
import { watchService } from "./service-watcher.js";

const etcd = useTestEtcd();
const ns = etcd.namespace;
const poll = { timeout: 4_000, interval: 20 };
const value = (addr: string, metadata?: unknown) =>
  encodeEndpoint(metadata === undefined ? { addr } : { addr, metadata });

afterAll(async () => {
  // Markers live outside the namespace the fixture cleans.
  await etcd.client().delete().prefix(`${PAUSE_MARKER_ROOT}${ns}/`).exec();
});

function open(service: string) {
  const warnings: string[] = [];
  const logger: WatcherLogger = { warn: (_fields, message) => warnings.push(message) };
  const watcher = watchService(createEtcd3Source(etcd.client()), service, { logger });
  const byKey = () =>
    Object.fromEntries(watcher.snapshot().endpoints.map((e) => [e.key, { ...e.attributes }]));
  return { watcher, warnings, byKey };
}

describe("endpoint attributes", () => {
  it("are read from the attribute string and from a JSON object's fields, on the list and on the watch", async () => {
    const client = etcd.client();
    const service = `${ns}/both`;
    await client.put(`${service}/s`).value(value("10.0.0.1:1", "zone=a;weight=3;note=x%3By"));
    await client
      .put(`${service}/o`)
      .value(value("10.0.0.2:1", { zone: "b", weight: 2, canary: true, tags: [1] }));
    await client.put(`${service}/n`).value(value("10.0.0.3:1"));
    const { watcher, warnings, byKey } = open(service);
    try {
      await watcher.ready();
      expect(byKey()).toEqual({
        [`${service}/n`]: {},
        [`${service}/o`]: { zone: "b", weight: "2", canary: "true" },
        [`${service}/s`]: { zone: "a", weight: "3", note: "x;y" },
      });
      const endpoint = watcher.snapshot().endpoints.find((e) => e.key === `${service}/s`) as ServiceEndpoint;
      expect(Object.getPrototypeOf(endpoint.attributes)).toBe(null);
      expect(Object.isFrozen(endpoint.attributes)).toBe(true);

      // A change of the attributes arrives as an update of the endpoint.
      const updated = new Promise<readonly ServiceEndpoint[]>((resolve) =>
        watcher.on("update", (u) => u.updated.length > 0 && resolve(u.updated)),
      );
      await client.put(`${service}/s`).value(value("10.0.0.1:1", formatAttributes({ zone: "c" })));
      expect((await updated).map((e) => ({ key: e.key, attributes: { ...e.attributes } }))).toEqual([
        { key: `${service}/s`, attributes: { zone: "c" } },
      ]);
      expect(warnings).toEqual([]);
    } finally {
      await watcher.close();
    }
  });

  it("a malformed attribute string keeps the endpoint, with no attributes and a warning naming its key", async () => {
    const client = etcd.client();
    const service = `${ns}/malformed`;
    await client.put(`${service}/bad`).value(value("10.0.0.1:1", "zone=a b"));
    const { watcher, warnings, byKey } = open(service);
    try {
      await watcher.ready();
      expect(byKey()).toEqual({ [`${service}/bad`]: {} });
      expect(watcher.snapshot().skipped).toEqual([]);
      expect(warnings).toEqual([
        expect.stringContaining(`malformed attribute string at ${service}/bad, read as no attributes`),
      ]);
      expect(warnings[0]).toContain('the value of "zone" has U+0020 at index 6');

      // Fixed by a later put: attributes, and no further warning.
      await client.put(`${service}/bad`).value(value("10.0.0.1:1", "zone=a%20b"));
      await expect.poll(() => byKey(), poll).toEqual({ [`${service}/bad`]: { zone: "a b" } });
      expect(warnings).toHaveLength(1);
    } finally {
      await watcher.close();
    }
  });

  it("pause markers are never endpoints of any service, nested ones included", async () => {
    const client = etcd.client();
    const service = `${ns}/root/marked`;
    await client.put(`${service}/live`).value(value("10.0.0.1:1", "zone=a"));
    await client
      .put(pauseMarkerKey(`${service}/paused`))
      .value(encodePauseMarker({ state: "paused", value: value("10.0.0.2:1", "zone=a") }));
    const { watcher, warnings, byKey } = open(service);
    const root = open(`${ns}/root`);
    try {
      await watcher.ready();
      await root.watcher.ready();
      // A marker written while watching is not an event of the service either.
      await client.put(pauseMarkerKey(`${service}/later`)).value(encodePauseMarker({ state: "paused" }));
      await client.put(`${service}/live2`).value(value("10.0.0.3:1"));
      await expect.poll(() => Object.keys(byKey()), poll).toEqual([`${service}/live`, `${service}/live2`]);
      await expect
        .poll(() => root.watcher.snapshot().endpoints.map((e) => e.key), poll)
        .toEqual([`${service}/live`, `${service}/live2`]);
      expect(watcher.snapshot().skipped).toEqual([]);
      expect([...warnings, ...root.warnings]).toEqual([]);
    } finally {
      await watcher.close();
      await root.watcher.close();
    }
  });
});
