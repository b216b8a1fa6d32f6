import { encodeEndpoint } from "@etcd-naming/codec";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { assertBuilt, binEnv, runBin } from "./test/bin.js";

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

const SERVICES = 500;
const ENDPOINTS_PER_SERVICE = 3;
// A service with a malformed value among its endpoints: counted apart, in its own column.
const MALFORMED = 7;

const etcd = useTestEtcd();
const client = etcd.client();
const env = (): NodeJS.ProcessEnv => binEnv({ ETCD_ENDPOINTS: etcd.endpoints.join(",") });
const root = `${etcd.namespace}/fleet`;
const name = (i: number) => `${root}/svc-${String(i).padStart(3, "0")}`;

beforeAll(async () => {
  assertBuilt();
  // 1,500 endpoint keys: more than the first page of a listing (1,000 keys), so it is read in pages.
  const puts: Array<() => Promise<unknown>> = [];
  for (let i = 0; i < SERVICES; i++) {
    for (let e = 0; e < ENDPOINTS_PER_SERVICE; e++) {
      const addr = `10.0.${i >> 8}.${i & 255}:${9000 + e}`;
      puts.push(() =>
        client
          .put(`${name(i)}/${addr}`)
          .value(encodeEndpoint({ addr }))
          .exec(),
      );
    }
  }
  puts.push(() =>
    client
      .put(`${name(MALFORMED)}/bad`)
      .value("{not json")
      .exec(),
  );
  for (let i = 0; i < puts.length; i += 150) await Promise.all(puts.slice(i, i + 150).map((put) => put()));
});

afterAll(async () => {
  await client.delete().prefix(`${root}/`).exec();
});

describe(`etcd-naming services with ${SERVICES} services`, () => {
  it("lists every service with its endpoint count (1,500 keys: more than one page of the listing)", async () => {
    const expected = Array.from({ length: SERVICES }, (_, i) => ({
      service: name(i),
      endpoints: ENDPOINTS_PER_SERVICE,
      skipped: i === MALFORMED ? 1 : 0,
    }));

    const json = await runBin(["services", root, "--json"], env(), 45_000);
    expect(json.stderr).toBe("");
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(expected);

    const table = await runBin(["services", root], env(), 45_000);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^SERVICE\s+ENDPOINTS\s+MALFORMED$/);
    expect(lines.slice(1).map((line) => line.split(/\s+/))).toEqual(
      expected.map((s) => [s.service, String(s.endpoints), String(s.skipped)]),
    );
  });
});
