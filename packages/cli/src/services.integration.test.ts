import { encodeEndpoint } from "@etcd-naming/codec";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { serviceOfKey } from "./command-services.js";
import { assertBuilt, binEnv, runBin } from "./test/bin.js";

vi.setConfig({ testTimeout: 30_000 });

const etcd = useTestEtcd();
const client = etcd.client();
const env = (): NodeJS.ProcessEnv => binEnv({ ETCD_ENDPOINTS: etcd.endpoints.join(",") });

beforeAll(() => {
  assertBuilt();
});

describe("serviceOfKey", () => {
  it("takes the last segment as the id, or from the first that starts with a scheme", () => {
    expect(serviceOfKey("team", "team/a")).toBe("team");
    expect(serviceOfKey("team", "team/greeter/10.0.0.1:80")).toBe("team/greeter");
    expect(serviceOfKey("team", "team/greeter/deep/x")).toBe("team/greeter/deep");
    expect(serviceOfKey("team", "team/unix:///tmp/s.sock")).toBe("team");
    expect(serviceOfKey("team", "team/greeter/dns:///h:1")).toBe("team/greeter");
  });
});

describe("etcd-naming services", () => {
  it("lists the root's services with their endpoint counts, nested ones and malformed values included", async () => {
    const root = `${etcd.namespace}/team`;
    const put = (key: string, value: string) => client.put(`${root}/${key}`).value(value).exec();
    await put("own-1", encodeEndpoint({ addr: "10.0.0.1:1" }));
    await put("greeter/10.0.0.2:1", encodeEndpoint({ addr: "10.0.0.2:1" }));
    await put("greeter/10.0.0.3:1", encodeEndpoint({ addr: "10.0.0.3:1" }));
    await put("greeter/bad", "{not json");
    await put("billing/v2/unix:///tmp/b.sock", encodeEndpoint({ addr: "unix:///tmp/b.sock" }));
    try {
      const json = await runBin(["services", root, "--json"], env());
      expect(json.stderr).toBe("");
      expect(json.code).toBe(0);
      expect(JSON.parse(json.stdout)).toEqual([
        { service: root, endpoints: 1, skipped: 0 },
        { service: `${root}/billing/v2`, endpoints: 1, skipped: 0 },
        { service: `${root}/greeter`, endpoints: 2, skipped: 1 },
      ]);

      const table = await runBin(["services", root], env());
      expect(table.code).toBe(0);
      const lines = table.stdout.trimEnd().split("\n");
      expect(lines[0]).toMatch(/^SERVICE\s+ENDPOINTS\s+MALFORMED$/);
      expect(lines.slice(1).map((line) => line.split(/\s+/))).toEqual([
        [root, "1", "0"],
        [`${root}/billing/v2`, "1", "0"],
        [`${root}/greeter`, "2", "1"],
      ]);

      const none = await runBin(["services", `${etcd.namespace}/nobody`], env());
      expect(none.code).toBe(0);
      expect(none.stdout).toBe(`no services under ${etcd.namespace}/nobody\n`);
    } finally {
      await client.delete().prefix(`${root}/`).exec();
    }
  });

  it("refuses a bad root as a usage error before connecting", async () => {
    const bad = await runBin(["services", "team/"], binEnv({ ETCD_ENDPOINTS: "127.0.0.1:1" }));
    expect(bad.code).toBe(2);
    expect(bad.stderr.split("\n")[0]).toMatch(/^error: .*must not end with "\/"/);
  });
});
