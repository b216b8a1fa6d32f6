import { describe, expect, it } from "vitest";
import { NamingError } from "./naming-error.js";
import { formatTarget, parseTarget, startsWithScheme } from "./target.js";
import { thrown } from "./test-support.js";

describe("parseTarget", () => {
  it.each([
    ["etcd:///my-service", "my-service", {}],
    ["etcd:///foo/bar/my-service", "foo/bar/my-service", {}],
    ["etcd:///my-service?zone=a&lb=pick_first", "my-service", { zone: "a", lb: "pick_first" }],
    ["etcd:///my-service?", "my-service", {}],
    ["etcd:///my-service?flag&&x=", "my-service", { flag: "", x: "" }],
    ["etcd:///my%2Dservice%2Fv1?z%20one=a%26b%3Dc", "my-service/v1", { "z one": "a&b=c" }],
    ["etcd:///svc?v=1+2", "svc", { v: "1+2" }],
    ["etcd:///svc?v=a=b", "svc", { v: "a=b" }],
    ["etcd:///%E6%9D%B1%E4%BA%AC", "東京", {}],
    ["ETCD:///svc", "svc", {}],
  ])("parses %s", (uri, service, params) => {
    const target = parseTarget(uri);
    expect(target.service).toBe(service);
    expect({ ...target.params }).toEqual(params);
    expect(Object.getPrototypeOf(target.params)).toBeNull();
  });

  it("keeps + as + and reads %20 as a space: a target is a URI, not a form", () => {
    expect({ ...parseTarget("etcd:///svc?zone=a+b").params }).toEqual({ zone: "a+b" });
    expect({ ...parseTarget("etcd:///svc?zone=a%2Bb&z+1=a%20b").params }).toEqual({
      zone: "a+b",
      "z+1": "a b",
    });
    expect(parseTarget("etcd:///a+b").service).toBe("a+b");
  });

  it("takes another scheme, for a resolver registered under it, and names it in hints", () => {
    expect(parseTarget("naming:///svc?zone=a", { scheme: "naming" }).service).toBe("svc");
    expect(parseTarget("NAMING:///svc", { scheme: "naming" }).service).toBe("svc");
    expect(thrown(() => parseTarget("etcd:///svc", { scheme: "naming" })).message).toMatch(
      /scheme "etcd": only naming:\/\/\/<service>/,
    );
    expect(thrown(() => parseTarget("naming://svc", { scheme: "naming" })).message).toContain(
      '"naming:///svc"',
    );
  });

  it("keeps a __proto__ parameter as data", () => {
    const target = parseTarget("etcd:///svc?__proto__=x&constructor=y");
    expect(Object.getOwnPropertyDescriptor(target.params, "__proto__")?.value).toBe("x");
    expect(target.params["constructor"]).toBe("y");
    expect(({} as Record<string, unknown>)["x"]).toBeUndefined();
  });

  it("rejects etcd://my-service with a hint showing etcd:///my-service", () => {
    const error = thrown(() => parseTarget("etcd://my-service"));
    expect(error.code).toBe("INVALID_TARGET");
    expect(error.message).toContain('"etcd:///my-service"');
    expect(error.message).toMatch(/authority/);
    expect(thrown(() => parseTarget("etcd://my-service?zone=a")).message).toContain(
      '"etcd:///my-service?zone=a"',
    );
    expect(thrown(() => parseTarget("etcd://my-service/")).message).toContain('"etcd:///my-service"');
  });

  it("rejects an authority such as etcd://host:2379/svc with a hint", () => {
    const error = thrown(() => parseTarget("etcd://127.0.0.1:2379/svc"));
    expect(error.code).toBe("INVALID_TARGET");
    expect(error.message).toContain('"etcd:///svc"');
    expect(error.message).toMatch(/configured on the client/);
  });

  it.each([
    ["another scheme", "dns:///my-service", /scheme "dns"/],
    ["no scheme", "my-service", /no scheme.*"etcd:\/\/\/my-service"/],
    ["empty", "", /no scheme/],
    ["missing slashes", "etcd:my-service", /missing "\/\/".*"etcd:\/\/\/my-service"/],
    ["one slash", "etcd:/my-service", /"etcd:\/\/\/my-service"/],
    ["no service", "etcd:///", /empty/],
    ["no path at all", "etcd://", /names no service/],
    ["a query but no service", "etcd://?zone=a", /names no service/],
    ["a trailing slash", "etcd:///svc/", /must not end with "\/"/],
    ["an empty segment", "etcd:///foo//svc", /empty segment/],
    ["a .. segment", "etcd:///foo/../svc", /"\.\." segment/],
    ["an encoded .. segment", "etcd:///foo/%2E%2E/svc", /"\.\." segment/],
    ["a space", "etcd:///my%20service", /whitespace/],
    ["an encoded newline", "etcd:///svc%0A", /control character/],
    ["malformed percent-encoding", "etcd:///svc%zz", /malformed percent-encoding/],
    ["percent-encoded invalid UTF-8", "etcd:///svc%FF", /malformed percent-encoding/],
    ["malformed percent-encoding in a parameter", "etcd:///svc?a=%", /malformed percent-encoding/],
    ["a fragment", "etcd:///svc#frag", /fragment/],
    ["a parameter without a name", "etcd:///svc?=a", /without a name/],
    ["a repeated parameter", "etcd:///svc?zone=a&zone=b", /repeats the parameter "zone"/],
  ])("rejects %s", (_name, uri, reason) => {
    const error = thrown(() => parseTarget(uri));
    expect(error.code).toBe("INVALID_TARGET");
    expect(error.message).toMatch(reason);
    expect(error.message).toContain(JSON.stringify(uri));
  });

  it("rejects a non-string", () => {
    expect(thrown(() => parseTarget(42 as unknown as string)).code).toBe("INVALID_TARGET");
  });

  it("keeps the service error as the cause", () => {
    const error = thrown(() => parseTarget("etcd:///a//b"));
    expect(error.cause).toBeInstanceOf(NamingError);
    expect((error.cause as NamingError).code).toBe("INVALID_SERVICE");
  });
});

describe("formatTarget", () => {
  it.each([
    ["my-service", undefined, "etcd:///my-service"],
    ["foo/bar/my-service", undefined, "etcd:///foo/bar/my-service"],
    ["my-service", { zone: "a", lb: "pick_first" }, "etcd:///my-service?zone=a&lb=pick_first"],
    ["my-service", {}, "etcd:///my-service"],
    ["svc:v1@x", { "z one": "a&b=c+d" }, "etcd:///svc:v1@x?z%20one=a%26b%3Dc%2Bd"],
    ["a?b#c%d", undefined, "etcd:///a%3Fb%23c%25d"],
    ["東京", undefined, "etcd:///%E6%9D%B1%E4%BA%AC"],
  ])("formats %j %j", (service, params, expected) => {
    expect(formatTarget(service, params)).toBe(expected);
    const back = parseTarget(expected);
    expect(back.service).toBe(service);
    expect({ ...back.params }).toEqual(params ?? {});
  });

  it("rejects a bad service with INVALID_SERVICE", () => {
    expect(thrown(() => formatTarget("/svc")).code).toBe("INVALID_SERVICE");
    expect(thrown(() => formatTarget("")).code).toBe("INVALID_SERVICE");
  });

  it("rejects bad parameters with INVALID_TARGET", () => {
    expect(thrown(() => formatTarget("svc", { "": "a" })).code).toBe("INVALID_TARGET");
    expect(thrown(() => formatTarget("svc", { a: 1 as unknown as string })).code).toBe("INVALID_TARGET");
    expect(thrown(() => formatTarget("svc", { a: "\ud800" })).code).toBe("INVALID_TARGET");
  });
});

describe("startsWithScheme", () => {
  it("is true for a scheme and its colon at the start, and false otherwise", () => {
    for (const text of ["etcd:///svc", "unix:///tmp/s", "dns:h", "a+b.c-d:x", "ETCD:"]) {
      expect(startsWithScheme(text), text).toBe(true);
    }
    for (const text of ["10.0.0.1:80", "/etcd:", "svc", "", "1a:b", "-x:", "team/unix:"]) {
      expect(startsWithScheme(text), text).toBe(false);
    }
  });
});
