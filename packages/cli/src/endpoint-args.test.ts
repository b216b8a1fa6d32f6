import { describe, expect, it } from "vitest";
import { CliError } from "./cli-error.js";
import { endpointKeyArg, metadataArg } from "./endpoint-args.js";

function usage(fn: () => unknown): CliError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).code).toBe("USAGE");
    return error as CliError;
  }
  throw new Error("expected a usage error");
}

describe("endpointKeyArg", () => {
  it("maps an address or id to <service>/<id>", () => {
    expect(endpointKeyArg("svc", "1.2.3.4:50051", "endpoint")).toBe("svc/1.2.3.4:50051");
    expect(endpointKeyArg("a/b/svc", "instance-1", "endpoint")).toBe("a/b/svc/instance-1");
    expect(endpointKeyArg("svc", "unix:///tmp/s.sock", "endpoint")).toBe("svc/unix:///tmp/s.sock");
  });

  it("keeps a full key under the service as it is", () => {
    expect(endpointKeyArg("svc", "svc/instance-1", "--key")).toBe("svc/instance-1");
    expect(endpointKeyArg("a/svc", "a/svc/x/y", "--key")).toBe("a/svc/x/y");
  });

  it("refuses keys outside the service and an empty id", () => {
    expect(usage(() => endpointKeyArg("svc", "other/1.2.3.4", "endpoint")).message).toContain(
      "outside service",
    );
    expect(usage(() => endpointKeyArg("svc", "svc-2/x", "endpoint")).message).toContain("outside service");
    expect(usage(() => endpointKeyArg("svc", "svc/", "--key")).message).toContain("has no id");
    usage(() => endpointKeyArg("svc", "", "endpoint"));
    usage(() => endpointKeyArg("svc", "a b", "endpoint"));
  });
});

describe("metadataArg", () => {
  it("parses any JSON value", () => {
    expect(metadataArg('"zone-a"')).toBe("zone-a");
    expect(metadataArg('{"zone":"a","w":3}')).toEqual({ zone: "a", w: 3 });
    expect(metadataArg("null")).toBeNull();
    expect(metadataArg("42")).toBe(42);
  });

  it("keeps __proto__ as plain data", () => {
    const parsed = metadataArg('{"__proto__":{"polluted":true}}') as Record<string, unknown>;
    expect(Object.keys(parsed)).toEqual(["__proto__"]);
    expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined();
  });

  it("rejects text that is not JSON with an example", () => {
    expect(usage(() => metadataArg("zone-a")).message).toMatch(/^invalid --metadata: not JSON .*'"zone-a"'/);
    usage(() => metadataArg("{"));
  });
});
