import { describe, expect, it } from "vitest";
import { endpointKey, isServiceKey, servicePrefix, validateAddress, validateService } from "./keys.js";
import { thrown } from "./test-support.js";

const badServices: [string, string, RegExp][] = [
  ["empty", "", /empty/],
  ["a leading slash", "/svc", /must not start with "\/"/],
  ["a trailing slash", "svc/", /must not end with "\/"/],
  ["a double slash", "foo//svc", /empty segment/],
  ["a . segment", "foo/./svc", /"\." segment/],
  ["a .. segment", "foo/../svc", /"\.\." segment/],
  ["only ..", "..", /"\.\." segment/],
  ["a space", "my service", /whitespace \(U\+0020\) at index 2/],
  ["a tab", "svc\t", /control character \(U\+0009\)/],
  ["a newline", "svc\n", /control character \(U\+000A\)/],
  ["a NUL", "s\u0000vc", /control character \(U\+0000\)/],
  ["a DEL", "svc\u007f", /control character \(U\+007F\)/],
  ["an ideographic space", "svc\u3000x", /whitespace \(U\+3000\)/],
  ["a lone surrogate", "svc\udc00", /lone surrogate/],
];

describe("validateService", () => {
  it.each([
    ["my-service"],
    ["foo/bar/my-service"],
    ["svc.v1"],
    ["...x"],
    ["a.b/c..d"],
    ["東京/😀"],
    ["svc:v1@x"],
  ])("accepts %j", (service) => {
    expect(validateService(service)).toBe(service);
  });

  it.each(badServices)("rejects %s, naming the input", (_name, service, reason) => {
    const error = thrown(() => validateService(service));
    expect(error.code).toBe("INVALID_SERVICE");
    expect(error.message).toMatch(reason);
    if (service !== "") expect(error.message).toContain(JSON.stringify(service));
  });

  it("rejects a non-string", () => {
    expect(thrown(() => validateService(undefined as unknown as string)).code).toBe("INVALID_SERVICE");
  });
});

describe("servicePrefix", () => {
  it("adds the trailing slash that keeps sibling services out", () => {
    expect(servicePrefix("my-service")).toBe("my-service/");
    expect(servicePrefix("foo/bar/my-service")).toBe("foo/bar/my-service/");
    expect("my-service-2/1.2.3.4".startsWith(servicePrefix("my-service"))).toBe(false);
  });

  it.each(badServices)("rejects %s", (_name, service) => {
    expect(thrown(() => servicePrefix(service)).code).toBe("INVALID_SERVICE");
  });
});

describe("endpointKey", () => {
  it("joins service and id", () => {
    expect(endpointKey("my-service", "1.2.3.4")).toBe("my-service/1.2.3.4");
    expect(endpointKey("foo/svc", "[::1]:9000")).toBe("foo/svc/[::1]:9000");
    expect(endpointKey("svc", "unix:///tmp/s.sock")).toBe("svc/unix:///tmp/s.sock");
  });

  it.each(badServices)("rejects a service with %s", (_name, service) => {
    expect(thrown(() => endpointKey(service, "1.2.3.4")).code).toBe("INVALID_SERVICE");
  });

  it.each([
    ["empty", "", /empty/],
    ["a space", "1.2.3.4 80", /whitespace/],
    ["a newline", "id\n", /control character/],
    ["a lone surrogate", "\ud800", /lone surrogate/],
  ])("rejects an id with %s (INVALID_KEY)", (_name, id, reason) => {
    const error = thrown(() => endpointKey("svc", id));
    expect(error.code).toBe("INVALID_KEY");
    expect(error.message).toMatch(reason);
  });

  it("rejects a non-string id", () => {
    expect(thrown(() => endpointKey("svc", 5 as unknown as string)).code).toBe("INVALID_KEY");
  });
});

describe("isServiceKey", () => {
  it.each([
    ["my-service", "my-service/1.2.3.4", true],
    ["my-service", "my-service/unix:///tmp/s.sock", true],
    ["my-service", "my-service/sub/x", true],
    ["my-service", "my-service/", false],
    ["my-service", "my-service", false],
    ["my-service", "my-service-2/1.2.3.4", false],
    ["my-service", "other/1.2.3.4", false],
    ["my-service", "x/my-service/1.2.3.4", false],
    ["foo/bar", "foo/bar/1", true],
    ["foo/bar", "foo/1", false],
  ] as const)("isServiceKey(%j, %j) is %s", (service, key, expected) => {
    expect(isServiceKey(service, key)).toBe(expected);
  });

  it("rejects an invalid service", () => {
    expect(thrown(() => isServiceKey("/svc", "/svc/1")).code).toBe("INVALID_SERVICE");
  });
});

describe("validateAddress", () => {
  it.each([["1.2.3.4:50051"], ["[::1]:9000"], ["unix:///tmp/s.sock"], ["dns-name:1"], ["東京:1"]])(
    "accepts %j",
    (addr) => {
      expect(() => validateAddress(addr)).not.toThrow();
    },
  );

  it.each([[""], [" "], ["h: 1"], ["h:1\r"], ["\u0000"], ["h\u00a0"], ["h\ud800"]])("rejects %j", (addr) => {
    const error = thrown(() => validateAddress(addr));
    expect(error.code).toBe("INVALID_ADDRESS");
  });
});
