import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { findBadCharacter, isServiceKey, validateService } from "./keys.js";
import * as pause from "./pause-marker.js";
import { thrown } from "./test-support.js";

const validService = fc
  .array(
    fc
      .string({ minLength: 1, maxLength: 8 })
      .filter((s) => !s.includes("/") && findBadCharacter(s) === undefined),
    { minLength: 1, maxLength: 3 },
  )
  .map((segments) => segments.join("/"))
  .filter((s) => {
    try {
      validateService(s);
      return true;
    } catch {
      return false;
    }
  });

describe("pause marker keys", () => {
  it("put the marker of an endpoint key under the root", () => {
    expect(pause.pauseMarkerKey("svc/10.0.0.1:1")).toBe("/etcd-naming/paused/svc/10.0.0.1:1");
    expect(pause.pauseMarkerPrefix("team/svc")).toBe("/etcd-naming/paused/team/svc/");
    expect(pause.endpointKeyOfMarker("/etcd-naming/paused/svc/10.0.0.1:1")).toBe("svc/10.0.0.1:1");
    expect(pause.endpointKeyOfMarker("svc/10.0.0.1:1")).toBeUndefined();
    expect(pause.endpointKeyOfMarker(pause.PAUSE_MARKER_ROOT)).toBeUndefined();
    expect(thrown(() => pause.pauseMarkerPrefix("/svc")).code).toBe("INVALID_SERVICE");
  });

  it("are never under a valid service's prefix, nor under Go 3.4's bare prefix of one", () => {
    fc.assert(
      fc.property(validService, validService, fc.string({ minLength: 1 }), (service, other, id) => {
        const marker = pause.pauseMarkerKey(`${other}/${id}`);
        expect(isServiceKey(service, marker)).toBe(false);
        // etcd 3.4's Go manager lists the bare prefix `<service>`, without the slash.
        expect(marker.startsWith(service)).toBe(false);
      }),
    );
  });
});

describe("pause marker values", () => {
  it("round-trip", () => {
    const value = '{"Op":0,"Addr":"10.0.0.1:1","Metadata":"zone=a"}';
    for (const marker of [{ state: "paused", value }, { state: "paused" }, { state: "resumed" }] as const) {
      expect(pause.decodePauseMarker(pause.encodePauseMarker(marker))).toEqual(marker);
      expect(pause.decodePauseMarker(new TextEncoder().encode(pause.encodePauseMarker(marker)))).toEqual(
        marker,
      );
    }
    expect(pause.encodePauseMarker({ state: "paused", value })).toBe(
      '{"state":"paused","value":"{\\"Op\\":0,\\"Addr\\":\\"10.0.0.1:1\\",\\"Metadata\\":\\"zone=a\\"}"}',
    );
  });

  it("read anything else as no marker, without touching prototypes", () => {
    for (const text of [
      "",
      "paused",
      "null",
      "[]",
      '"paused"',
      "{}",
      '{"state":"PAUSED"}',
      '{"state":"paused","value":3}',
      '{"__proto__":{"state":"paused"}}',
      '{"state":"paused"',
    ]) {
      expect(pause.decodePauseMarker(text)).toBeUndefined();
    }
    expect(pause.decodePauseMarker(`{"state":"paused","value":"${"x".repeat(140_000)}"}`)).toBeUndefined();
    expect(pause.decodePauseMarker(3 as unknown as string)).toBeUndefined();
    expect(({} as Record<string, unknown>)["state"]).toBeUndefined();
  });
});
