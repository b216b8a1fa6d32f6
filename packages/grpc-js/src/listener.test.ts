import { describe, expect, it, vi } from "vitest";
import { adaptListener } from "./listener.js";
import { serviceConfigFor } from "./service-config.js";

const metadata = { kind: "metadata" };
const newMetadata = () => metadata;
const endpoints = [{ addresses: [{ host: "10.0.0.1", port: 80 }] }];
const roundRobin = serviceConfigFor("round_robin");

describe("adaptListener: the grpc-js 1.14+ function shape", () => {
  it("reports endpoints as a StatusOr with the service config", () => {
    const listener = vi.fn(() => true);
    const sink = adaptListener(listener, newMetadata);
    expect(sink.shape).toBe("function");
    sink.endpoints(endpoints, roundRobin);
    sink.endpoints(endpoints, null);
    expect(listener.mock.calls).toEqual([
      [{ ok: true, value: endpoints }, {}, { ok: true, value: roundRobin }, ""],
      [{ ok: true, value: endpoints }, {}, null, ""],
    ]);
  });

  it("reports an emptied service as an empty round_robin list, then the note as an error", () => {
    const listener = vi.fn(() => true);
    adaptListener(listener, newMetadata).empty("no endpoints for svc");
    expect(listener.mock.calls).toEqual([
      [{ ok: true, value: [] }, {}, { ok: true, value: roundRobin }, "no endpoints for svc"],
      [
        { ok: false, error: { code: 14, details: "no endpoints for svc", metadata } },
        {},
        { ok: true, value: roundRobin },
        "no endpoints for svc",
      ],
    ]);
  });

  it("says an emptied service is still empty with the error alone", () => {
    const listener = vi.fn(() => true);
    adaptListener(listener, newMetadata).stillEmpty("no endpoints for svc");
    expect(listener.mock.calls).toEqual([
      [
        { ok: false, error: { code: 14, details: "no endpoints for svc", metadata } },
        {},
        { ok: true, value: roundRobin },
        "no endpoints for svc",
      ],
    ]);
  });

  it("reports errors as UNAVAILABLE, with the resolver's service config", () => {
    const listener = vi.fn(() => true);
    const sink = adaptListener(listener, newMetadata);
    sink.error("etcd down", null);
    sink.error("etcd down", roundRobin);
    expect(listener.mock.calls).toEqual([
      [{ ok: false, error: { code: 14, details: "etcd down", metadata } }, {}, null, "etcd down"],
      [
        { ok: false, error: { code: 14, details: "etcd down", metadata } },
        {},
        { ok: true, value: roundRobin },
        "etcd down",
      ],
    ]);
  });
});

describe("adaptListener: the grpc-js 1.10–1.13 object shape", () => {
  const objectListener = () => ({ onSuccessfulResolution: vi.fn(), onError: vi.fn() });

  it("reports endpoints through onSuccessfulResolution", () => {
    const listener = objectListener();
    const sink = adaptListener(listener, newMetadata);
    expect(sink.shape).toBe("object");
    sink.endpoints(endpoints, roundRobin);
    expect(listener.onSuccessfulResolution).toHaveBeenCalledExactlyOnceWith(
      endpoints,
      roundRobin,
      null,
      null,
      {},
    );
    expect(listener.onError).not.toHaveBeenCalled();
  });

  it("idles the policy with an empty round_robin list, then reports the note as an error", () => {
    const listener = objectListener();
    adaptListener(listener, newMetadata).empty("no endpoints for svc");
    expect(listener.onSuccessfulResolution).toHaveBeenCalledExactlyOnceWith([], roundRobin, null, null, {});
    expect(listener.onError).toHaveBeenCalledExactlyOnceWith({
      code: 14,
      details: "no endpoints for svc",
      metadata,
    });
    expect(listener.onSuccessfulResolution.mock.invocationCallOrder[0]).toBeLessThan(
      listener.onError.mock.invocationCallOrder[0]!,
    );
  });

  it("says an emptied service is still empty through onError alone", () => {
    const listener = objectListener();
    adaptListener(listener, newMetadata).stillEmpty("no endpoints for svc");
    expect(listener.onSuccessfulResolution).not.toHaveBeenCalled();
    expect(listener.onError).toHaveBeenCalledExactlyOnceWith({
      code: 14,
      details: "no endpoints for svc",
      metadata,
    });
  });

  it("reports errors through onError", () => {
    const listener = objectListener();
    adaptListener(listener, newMetadata).error("etcd down", roundRobin);
    expect(listener.onError).toHaveBeenCalledExactlyOnceWith({ code: 14, details: "etcd down", metadata });
  });
});

it("rejects a listener of neither shape", () => {
  expect(() => adaptListener({ onSuccessfulResolution: () => {} }, newMetadata)).toThrow(TypeError);
  expect(() => adaptListener(undefined, newMetadata)).toThrow(TypeError);
});
