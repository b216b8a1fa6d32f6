import type { LogFields } from "@etcd-naming/etcd";
import { describe, expect, it } from "vitest";
import { RegistrarError } from "./errors.js";
import {
  checkLeaseId,
  MAX_LEASE_ID,
  MIN_TTL_SECONDS,
  resolveKey,
  validateTtl,
  warnObjectMetadata,
} from "./validate.js";

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

describe("checkLeaseId", () => {
  it("accepts 1 to 2^63 - 1 in canonical form, and 0 as no lease", () => {
    expect(checkLeaseId("1", "x")).toBe("1");
    expect(checkLeaseId("9223372036854775807", "x")).toBe("9223372036854775807");
    expect(String(MAX_LEASE_ID)).toBe("9223372036854775807");
    expect(checkLeaseId("007", "x")).toBe("7");
    expect(checkLeaseId("0", "x")).toBeUndefined();
    expect(checkLeaseId("000", "x")).toBeUndefined();
  });

  it.each([
    ["2^63", "9223372036854775808", /out of range/],
    ["2^64, which etcd3 would write as lease 0", "18446744073709551616", /out of range/],
    ["a huge number", "9".repeat(400), /out of range/],
    ["a negative id", "-1", /decimal lease id string/],
    ["hex from etcdctl", "694d7d1b3a1c5e05", /etcdctl prints lease ids in hex/],
    ["0x hex", "0x1f", /in hex/],
    ["an empty string", "", /decimal lease id string/],
    ["a number", 12, /pass it as a string/],
    ["a bigint", 12n, /pass it as a string/],
    ["exponent notation", "1e3", /decimal lease id string/],
    ["a space", " 12", /decimal lease id string/],
    ["null", null, /got null/],
  ])("refuses %s with INVALID_INPUT", (_, lease, message) => {
    expect(() => checkLeaseId(lease, "x")).toThrow(message);
    expect(() => checkLeaseId(lease, "x")).toThrow(expect.objectContaining({ code: "INVALID_INPUT" }));
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
    const fields: LogFields[] = [];
    const logger = {
      warn: (f: LogFields, m: string) => {
        fields.push(f);
        warnings.push(m);
      },
    };
    for (const metadata of [undefined, null, "s", 1, true]) warnObjectMetadata(logger, "s", "s/k", metadata);
    expect(warnings).toEqual([]);
    warnObjectMetadata(logger, "s", "s/k1", { a: 1 });
    warnObjectMetadata(logger, "s", "s/k2", [1]);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain("s/k1");
    expect(fields).toEqual([
      { service: "s", key: "s/k1" },
      { service: "s", key: "s/k2" },
    ]);
  });
});
