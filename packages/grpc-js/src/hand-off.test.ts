// When the resolver hands a change to grpc-js, with the system clock: an isolated change from the watcher
// goes out once the watcher's callback has returned (a microtask), not a turn of the event loop later and
// never from inside that callback; grpc-js's own requests still wait for a timer's turn.
import { encodeEndpoint } from "@etcd-naming/codec";
import { createMemorySource, type MemorySource } from "@etcd-naming/watcher";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { FunctionListener } from "./listener.js";
import { type EtcdResolverHandle, registerEtcdResolver } from "./register.js";
import { type FakeGrpc, fakeGrpc, uri } from "./test/fake-grpc.js";

let grpc: FakeGrpc;
let source: MemorySource;
let handle: EtcdResolverHandle;
const logger = { warn: vi.fn(), error: vi.fn() };

beforeEach(() => {
  grpc = fakeGrpc();
  source = createMemorySource();
  // No clock option: the system clock, the case the microtask hand-off is for. No waiting in the watcher
  // or between listener calls (the adaptive spacing, ten times the last call's cost, is capped at 0 too:
  // on a loaded machine it would otherwise put the next change on a timer), so every change is one the
  // resolver hands over at once.
  handle = registerEtcdResolver({
    source,
    grpc,
    logger,
    coalesceMs: 0,
    minUpdateIntervalMs: 0,
    maxUpdateIntervalMs: 0,
  });
});

afterEach(async () => {
  await handle.close();
});

/** A resolver on `svc` whose listener logs its calls into `order` as "listener". */
async function opened(order: string[]) {
  source.put("svc/a", encodeEndpoint({ addr: "10.0.0.1:80" }));
  const listener = vi.fn<FunctionListener>(() => {
    order.push("listener");
    return true;
  });
  const Resolver = grpc.registered.get("etcd")!;
  const resolver = new Resolver(uri("etcd:///svc"), listener, {});
  resolver.updateResolution();
  await vi.waitFor(() => expect(listener).toHaveBeenCalledTimes(1), { timeout: 5_000, interval: 5 });
  order.length = 0;
  return { resolver, listener };
}

describe("the hand-off to grpc-js with the system clock", () => {
  it("sends a change from the watcher right after its callback, before the event loop's next turn", async () => {
    const order: string[] = [];
    const { resolver, listener } = await opened(order);
    const turned = new Promise<void>((resolve) =>
      setImmediate(() => {
        order.push("next turn");
        resolve();
      }),
    );
    // The memory source delivers the event in a microtask queued here; the one queued after it runs once
    // the watcher's callback (and anything it called synchronously) has returned.
    source.put("svc/b", encodeEndpoint({ addr: "10.0.0.2:80" }));
    queueMicrotask(() => order.push("after the watcher's callback"));
    await turned;
    expect(order).toEqual(["after the watcher's callback", "listener", "next turn"]);
    const endpoints = listener.mock.calls[1]![0];
    expect(endpoints.ok && endpoints.value.map((e) => e.addresses[0])).toEqual([
      { host: "10.0.0.1", port: 80 },
      { host: "10.0.0.2", port: 80 },
    ]);
    resolver.destroy();
  });

  it("answers grpc-js's own request on a timer's turn, and sends nothing once destroyed", async () => {
    const order: string[] = [];
    const { resolver, listener } = await opened(order);
    // Re-initialised (grpc-js does this when the channel goes idle and back): it has everything to say.
    resolver.destroy();
    resolver.updateResolution();
    queueMicrotask(() => order.push("microtasks done"));
    await vi.waitFor(() => expect(listener).toHaveBeenCalledTimes(2), { timeout: 5_000, interval: 5 });
    expect(order).toEqual(["microtasks done", "listener"]);

    source.put("svc/b", encodeEndpoint({ addr: "10.0.0.2:80" }));
    // Destroyed while the hand-off is queued (the event is delivered in a microtask): nothing goes out.
    queueMicrotask(() => resolver.destroy());
    await new Promise<void>((resolve) => setImmediate(resolve));
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(listener).toHaveBeenCalledTimes(2);
  });
});
