import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { addressId, addressKey, DEFAULT_PORT, parseAddress } from "./address.js";

describe("parseAddress", () => {
  it.each([
    ["10.0.0.1:50051", { host: "10.0.0.1", port: 50051 }],
    ["localhost:8080", { host: "localhost", port: 8080 }],
    ["svc-a.internal_1:1", { host: "svc-a.internal_1", port: 1 }],
    ["[::1]:50051", { host: "::1", port: 50051 }],
    ["[fe80::1%eth0]:9000", { host: "fe80::1%eth0", port: 9000 }],
    ["  10.0.0.1:65535 ", { host: "10.0.0.1", port: 65535 }],
  ])("reads host and port from %s", (addr, expected) => {
    expect(parseAddress(addr)).toEqual(expected);
  });

  it.each([
    ["10.0.0.1", "10.0.0.1"],
    ["example.com", "example.com"],
    ["[::1]", "::1"],
    ["2001:db8::5", "2001:db8::5"],
  ])("defaults %s to port 443 like grpc-js's DNS resolver", (addr, host) => {
    expect(parseAddress(addr)).toEqual({ host, port: DEFAULT_PORT });
    expect(DEFAULT_PORT).toBe(443);
  });

  it.each([
    ["unix:/tmp/greeter.sock", "/tmp/greeter.sock"],
    ["unix:///tmp/greeter.sock", "/tmp/greeter.sock"],
    ["unix:relative.sock", "relative.sock"],
  ])("reads %s as a Unix socket", (addr, path) => {
    expect(parseAddress(addr)).toEqual({ path });
  });

  it.each([
    "",
    "   ",
    "10.0.0.1:",
    "10.0.0.1:0",
    "10.0.0.1:65536",
    "10.0.0.1:http",
    "10.0.0.1:-1",
    "[::1",
    "[::1]50051",
    "[10.0.0.1]:80",
    "1::2::3",
    "http://10.0.0.1:80",
    "bad host:80",
    "-leading.dash:80",
    "unix:",
    "unix://host/tmp/x.sock",
    "ipv4:1.2.3.4:80",
  ])("rejects %j", (addr) => {
    expect(parseAddress(addr)).toBeNull();
  });
});

describe("addressKey", () => {
  it("gives one text per address so duplicates can be dropped", () => {
    expect(addressKey({ host: "::1", port: 80 })).toBe("[::1]:80");
    expect(addressKey({ host: "10.0.0.1", port: 80 })).toBe("10.0.0.1:80");
    expect(addressKey({ path: "/tmp/s" })).toBe("unix:/tmp/s");
    expect(addressKey(parseAddress("[::1]:80")!)).toBe(addressKey(parseAddress("[::1]:80 ")!));
  });
});

describe("addressId", () => {
  it("is addressKey of the parsed address, for every registered text", () => {
    const piece = fc.oneof(
      fc.constantFrom(":", "[", "]", " ", "\t", ".", "0", "00", "08080", "8080", "65535", "443", "1"),
      fc.constantFrom("::1", "fe80::1%eth0", "1.2.3.4", "host", "unix:", "unix:///s", "a:b"),
      fc.ipV4(),
      fc.ipV6(),
      fc.nat(70000).map(String),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 4 }), (parts) => {
        const addr = parts.join("");
        const address = parseAddress(addr);
        if (address !== null) expect(addressId(addr, address)).toBe(addressKey(address));
      }),
      { numRuns: 5000 },
    );
  });

  it("is the registered text itself when that is already the key", () => {
    const addr = "10.1.2.3:8080";
    expect(addressId(addr, parseAddress(addr)!)).toBe(addr);
    expect(addressId(" 10.1.2.3:8080", parseAddress(" 10.1.2.3:8080")!)).toBe(addr);
    expect(addressId("10.1.2.3:08080", parseAddress("10.1.2.3:08080")!)).toBe(addr);
    expect(addressId("[::1]:80", parseAddress("[::1]:80")!)).toBe("[::1]:80");
    expect(addressId("::1", parseAddress("::1")!)).toBe("[::1]:443");
  });
});
