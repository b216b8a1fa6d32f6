import { describe, expect, it } from "vitest";
import { parseEndpoints } from "./shared-etcd.js";

describe("parseEndpoints", () => {
  it("splits, trims and drops URL schemes and empty entries", () => {
    expect(parseEndpoints(" 127.0.0.1:2379, http://10.0.0.2:2379,,https://h:1 ")).toEqual([
      "127.0.0.1:2379",
      "10.0.0.2:2379",
      "h:1",
    ]);
    expect(parseEndpoints(undefined)).toEqual([]);
    expect(parseEndpoints("")).toEqual([]);
  });
});
