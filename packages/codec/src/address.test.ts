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

describe("parseAddress against its earlier, regex-based form", () => {
  // The grammar as it was written first (ports by regex and Number, hosts by the IP grammar first): the
  // faster form must answer exactly as it did.
  const PORT = /^\d{1,5}$/;
  const HOST_NAME = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$/;
  const port = (text: string) => (PORT.test(text) && +text >= 1 && +text <= 65535 ? +text : null);
  const isHost = (host: string) => ipVersion(host) !== 0 || HOST_NAME.test(host);
  function reference(addr: string) {
    const text = addr.trim();
    if (text.length === 0) return null;
    if (text.startsWith("unix:")) return parseAddress(text);
    if (text.startsWith("[")) {
      const end = text.indexOf("]");
      if (end === -1) return null;
      const host = text.slice(1, end);
      if (ipVersion(host) !== 6) return null;
      const rest = text.slice(end + 1);
      if (rest.length === 0) return { host, port: 443 };
      if (!rest.startsWith(":")) return null;
      const p = port(rest.slice(1));
      return p === null ? null : { host, port: p };
    }
    const firstColon = text.indexOf(":");
    if (firstColon === -1) return isHost(text) ? { host: text, port: 443 } : null;
    if (text.indexOf(":", firstColon + 1) !== -1)
      return ipVersion(text) === 6 ? { host: text, port: 443 } : null;
    const host = text.slice(0, firstColon);
    const p = port(text.slice(firstColon + 1));
    if (p === null || !isHost(host)) return null;
    return { host, port: p };
  }

  it("gives the same answer for every address", () => {
    const piece = fc.oneof(
      fc.constantFrom(":", "[", "]", " ", ".", "-", "_", "%", "0", "00", "65535", "65536", "99999", "123456"),
      fc.constantFrom("٣", "１", "+1", "-1", "1e3", "0x1F", "::1", "fe80::1%eth0", "1.2.3.4", "host", "a..b"),
      fc.ipV4(),
      fc.ipV6(),
      fc.nat(70000).map(String),
      fc.string({ maxLength: 4 }),
    );
    const host = fc.oneof(
      fc.ipV4(),
      fc.ipV6().map((v6) => `[${v6}]`),
      fc.ipV6(),
      fc.constantFrom("host", "a-b.c", "[::1", "unix", "", " 1.2.3.4", "[fe80::1%eth0]"),
    );
    const portText = fc.oneof(
      fc.nat(70000).map(String),
      fc.constantFrom("000001", "00080", "0", "1:", ":1", "1 ", "", "٣", "8O8O", "65535", "65536", "1/"),
    );
    const address = fc.oneof(
      fc.array(piece, { maxLength: 5 }).map((parts) => parts.join("")),
      fc.tuple(host, fc.constantFrom(":", "", "::", "]:"), portText).map((parts) => parts.join("")),
    );
    fc.assert(
      fc.property(address, (addr) => {
        expect(parseAddress(addr)).toEqual(reference(addr));
      }),
      { numRuns: 5000 },
    );
  });
});
