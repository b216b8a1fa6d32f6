import { createMemorySource } from "@etcd-naming/watcher";
import { Etcd3 } from "etcd3";
import { afterEach, describe, expect, it } from "vitest";
import { ResolverError } from "./errors.js";
import {
  type EtcdResolverHandle,
  type RegisterEtcdResolverOptions,
  registerEtcdResolver,
} from "./register.js";
import { fakeGrpc, uri } from "./test/fake-grpc.js";

const handles: EtcdResolverHandle[] = [];
afterEach(async () => {
  await Promise.all(handles.splice(0).map((h) => h.close()));
});

function register(options: RegisterEtcdResolverOptions): EtcdResolverHandle {
  const handle = registerEtcdResolver(options);
  handles.push(handle);
  return handle;
}

function codeOf(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(ResolverError);
    return (error as ResolverError).code;
  }
  throw new Error("no error");
}

describe("registerEtcdResolver", () => {
  it("registers the etcd scheme by default", () => {
    const grpc = fakeGrpc();
    const handle = register({ source: createMemorySource(), grpc });
    expect(handle.scheme).toBe("etcd");
    expect([...grpc.registered.keys()]).toEqual(["etcd"]);
  });

  it("is idempotent for the same client and scheme", () => {
    const grpc = fakeGrpc();
    const source = createMemorySource();
    const first = register({ source, grpc });
    expect(register({ source, grpc })).toBe(first);
    expect(grpc.registered.size).toBe(1);
  });

  it("refuses a second client on the same scheme, and accepts it on another", () => {
    const grpc = fakeGrpc();
    register({ source: createMemorySource(), grpc });
    let error: ResolverError | undefined;
    try {
      register({ source: createMemorySource(), grpc });
    } catch (e) {
      error = e as ResolverError;
    }
    expect(error?.code).toBe("ALREADY_REGISTERED");
    expect(error?.message).toContain("scheme");
    const second = register({ source: createMemorySource(), grpc, scheme: "etcd-b" });
    expect(second.scheme).toBe("etcd-b");
    expect([...grpc.registered.keys()].sort()).toEqual(["etcd", "etcd-b"]);
  });

  it("refuses the same client with different options", () => {
    const grpc = fakeGrpc();
    const source = createMemorySource();
    register({ source, grpc });
    expect(codeOf(() => register({ source, grpc, defaultLoadBalancing: "pick_first" }))).toBe(
      "ALREADY_REGISTERED",
    );
  });

  it("keeps registrations of different grpc-js copies apart", () => {
    const source = createMemorySource();
    const a = register({ source, grpc: fakeGrpc() });
    const b = register({ source, grpc: fakeGrpc() });
    expect(a).not.toBe(b);
  });

  it("accepts an etcd3 client", () => {
    const client = new Etcd3({ hosts: "127.0.0.1:1" });
    try {
      const handle = register({ client, grpc: fakeGrpc() });
      expect(handle.closed).toBe(false);
    } finally {
      client.close();
    }
  });

  it.each<[string, Partial<RegisterEtcdResolverOptions>]>([
    ["no client", {}],
    ["both client and source", { client: new Etcd3({ hosts: "127.0.0.1:1" }) }],
    ["a bad scheme", { scheme: "Etcd:" }],
    ["a grpc-js scheme", { scheme: "dns" }],
    ["an unknown policy", { defaultLoadBalancing: "random" as never }],
    ["a negative interval", { minUpdateIntervalMs: -1 }],
    ["max below min", { minUpdateIntervalMs: 500, maxUpdateIntervalMs: 100 }],
    // Node fires a timer beyond 2^31 - 1 ms after 1 ms: no spacing at all.
    ["an interval no timer can wait", { minUpdateIntervalMs: 2 ** 31, maxUpdateIntervalMs: 2 ** 32 }],
    ["a max interval no timer can wait", { maxUpdateIntervalMs: 1e12 }],
    ["a coalescing window no timer can wait", { coalesceMs: 2 ** 31 }],
    ["a NaN coalescing window", { coalesceMs: Number.NaN }],
    ["a module without registerResolver", { grpc: {} as never }],
  ])("rejects %s as INVALID_OPTIONS", (name, options) => {
    const source = name === "no client" ? undefined : createMemorySource();
    const all = {
      grpc: fakeGrpc(),
      ...(source ? { source } : {}),
      ...options,
    } as RegisterEtcdResolverOptions;
    expect(codeOf(() => register(all))).toBe("INVALID_OPTIONS");
    (options.client as Etcd3 | undefined)?.close();
  });

  it("after close(), fails new channels with CLOSED and lets the scheme be registered again", async () => {
    const grpc = fakeGrpc();
    const handle = register({ source: createMemorySource(), grpc });
    const Closed = grpc.registered.get("etcd")!;
    await handle.close();
    expect(handle.closed).toBe(true);
    await handle.close(); // idempotent
    expect(codeOf(() => Closed.getDefaultAuthority(uri("etcd:///svc")))).toBe("CLOSED");
    expect(codeOf(() => new Closed(uri("etcd:///svc"), () => true, {}))).toBe("CLOSED");

    const again = register({ source: createMemorySource(), grpc });
    expect(again).not.toBe(handle);
    expect(grpc.registered.get("etcd")).not.toBe(Closed);
    expect(grpc.registered.get("etcd")!.getDefaultAuthority(uri("etcd:///svc"))).toBe("svc");
  });

  it("is an async disposable", async () => {
    const grpc = fakeGrpc();
    let kept: EtcdResolverHandle | undefined;
    {
      await using handle = registerEtcdResolver({ source: createMemorySource(), grpc });
      kept = handle;
    }
    expect(kept.closed).toBe(true);
  });
});
