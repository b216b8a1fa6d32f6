import { describe, expect, expectTypeOf, it } from "vitest";
import type { TestProject } from "vitest/node";
import setup, { type ProvidingProject } from "./global-setup.js";
import "./vitest.js";

describe("global setup", () => {
  it("uses ETCD_NAMING_TEST_ENDPOINTS without starting anything", async () => {
    // Checked by `typecheck`: vitest's TestProject fits the structural parameter type.
    expectTypeOf<TestProject>().toExtend<ProvidingProject>();
    const before = process.env["ETCD_NAMING_TEST_ENDPOINTS"];
    process.env["ETCD_NAMING_TEST_ENDPOINTS"] = "10.1.2.3:2379,http://10.1.2.4:2379";
    const provided: Record<string, unknown> = {};
    try {
      const teardown = await setup({
        provide: (key, value) => {
          provided[key] = value;
        },
      });
      await teardown();
      expect(provided).toEqual({ etcdEndpoints: ["10.1.2.3:2379", "10.1.2.4:2379"] });
    } finally {
      if (before === undefined) delete process.env["ETCD_NAMING_TEST_ENDPOINTS"];
      else process.env["ETCD_NAMING_TEST_ENDPOINTS"] = before;
    }
  });
});
