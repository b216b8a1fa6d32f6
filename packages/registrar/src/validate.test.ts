import { describe, expect, it } from "vitest";
import { RegistrarError } from "./errors.js";
import { MIN_TTL_SECONDS, resolveKey, validateTtl, warnObjectMetadata } from "./validate.js";

describe("validateTtl", () => {
  it("accepts whole seconds from etcd's minimum up", () => {
    expect(validateTtl(MIN_TTL_SECONDS)).toBe(2);
    expect(validateTtl(10)).toBe(10);
  });

  it.each([1, 0, -5, 2.5, Number.NaN, "10", 1e12])("refuses %s", (ttl) => {
    expect(() => validateTtl(ttl)).toThrow(RegistrarError);
  });

  it("explains a TTL below the minimum", () => {
    expect(() => validateTtl(1)).toThrow("below etcd's minimum lease TTL of 2s");
  });
});

describe("resolveKey", () => {
  it("defaults to <service>/<addr>", () => {
    expect(resolveKey("a/b", "10.0.0.1:80", undefined)).toBe("a/b/10.0.0.1:80");
  });

  it("accepts an explicit key under the service and refuses others with Go's wording", () => {
    expect(resolveKey("svc", "x:1", "svc/pod-1")).toBe("svc/pod-1");
    expect(() => resolveKey("svc", "x:1", "svc2/pod-1")).toThrow(
      "register: endpoint key should be prefixed with 'svc/' got: 'svc2/pod-1'",
    );
    expect(() => resolveKey("svc", "x:1", "svc/")).toThrow(RegistrarError);
    expect(() => resolveKey("svc", "x:1", "svc/bad id")).toThrow(RegistrarError);
  });
});

describe("warnObjectMetadata", () => {
  it("warns for objects and arrays only", () => {
    const warnings: string[] = [];
    const logger = { warn: (m: string) => warnings.push(m) };
    for (const metadata of [undefined, null, "s", 1, true]) warnObjectMetadata(logger, "k", metadata);
    expect(warnings).toEqual([]);
    warnObjectMetadata(logger, "k1", { a: 1 });
    warnObjectMetadata(logger, "k2", [1]);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain("k1");
  });
});
