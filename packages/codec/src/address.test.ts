import { isIP } from "node:net";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ipVersion, parseAddress } from "./address.js";

describe("ipVersion", () => {
  it("agrees with Node's net.isIP on addresses, near misses and noise", { timeout: 30_000 }, () => {
    const hex = fc.stringMatching(/^[0-9a-fA-F]{0,5}$/);
    const v6 = fc
      .array(fc.oneof(hex, fc.constant(""), fc.ipV4()), { minLength: 1, maxLength: 10 })
      .chain((parts) =>
        fc.tuple(fc.constant(parts.join(":")), fc.option(fc.stringMatching(/^%[0-9a-zA-Z.:-]{0,4}$/))),
      )
      .map(([text, zone]) => text + (zone ?? ""));
    const v4 = fc
      .array(fc.oneof(fc.nat(300).map(String), fc.stringMatching(/^0\d{1,2}$/), fc.constant("")), {
        minLength: 1,
        maxLength: 5,
      })
      .map((parts) => parts.join("."));
    const any = fc.oneof(fc.ipV4(), fc.ipV6(), fc.ipV4Extended(), v4, v6, fc.string({ maxLength: 12 }));
    fc.assert(
      fc.property(any, (text) => ipVersion(text) === isIP(text)),
      { seed: 21, numRuns: 2_000 },
    );
    for (const text of [
      "::",
      "::1",
      "1::",
      "::ffff:1.2.3.4",
      "fe80::1%eth0",
      "1:2:3:4:5:6:7:8",
      "1.2.3.04",
      "1:2:3:4:5:6:7:8:9",
      "",
    ]) {
      expect(ipVersion(text), text).toBe(isIP(text));
    }
  });
});

describe("parseAddress", () => {
  it("refuses what the resolver cannot dial", () => {
    for (const addr of [
      "10.0.0.1:99999",
      "http://x",
      "http://10.0.0.1:80",
      "10.0.0.1:0",
      "a b:1",
      "[1.2.3.4]:1",
    ]) {
      expect(parseAddress(addr), addr).toBeNull();
    }
    expect(parseAddress("10.0.0.1:50051")).toEqual({ host: "10.0.0.1", port: 50051 });
    expect(parseAddress("[fe80::1%eth0]:9000")).toEqual({ host: "fe80::1%eth0", port: 9000 });
    expect(parseAddress("unix:///tmp/s.sock")).toEqual({ path: "/tmp/s.sock" });
  });
});
