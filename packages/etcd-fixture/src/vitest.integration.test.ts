import { describe, expect, inject, it } from "vitest";
import { type TestEtcd, useTestEtcd } from "./vitest.js";

const etcd = useTestEtcd();

describe("useTestEtcd", () => {
  it("uses the run's one shared etcd from the global setup", () => {
    expect(etcd.endpoints).toEqual(inject("etcdEndpoints"));
    expect(etcd.endpoints.length).toBeGreaterThan(0);
    // The global setup publishes the server it started (or was given) to the whole run.
    expect(etcd.endpoints.join(",")).toBe(process.env["ETCD_NAMING_TEST_ENDPOINTS"]);
  });

  it("gives the file a slash-free namespace", () => {
    expect(etcd.namespace).toMatch(/^t-[0-9a-f]{8}$/);
  });

  it("puts and gets through its clients", async () => {
    const a = etcd.client();
    const b = etcd.client();
    expect(a).not.toBe(b);
    await a.put(`${etcd.namespace}/greeter/1.2.3.4`).value("hello");
    expect(await b.get(`${etcd.namespace}/greeter/1.2.3.4`).string()).toBe("hello");
  });

  let scopedNamespace = "";
  describe("a scope with its own useTestEtcd", () => {
    const scoped: TestEtcd = useTestEtcd();

    it("gets another namespace and writes under it", async () => {
      scopedNamespace = scoped.namespace;
      expect(scoped.namespace).not.toBe(etcd.namespace);
      const client = scoped.client();
      await client.put(`${scoped.namespace}/svc/a`).value("x");
      await client.put(`${scoped.namespace}/svc/b`).value("y");
      expect(await client.getAll().prefix(`${scoped.namespace}/`).count()).toBe(2);
    });
  });

  it("deleted the scope's namespace in its afterAll", async () => {
    expect(scopedNamespace).not.toBe("");
    const client = etcd.client();
    expect(await client.getAll().prefix(`${scopedNamespace}/`).count()).toBe(0);
  });
});
