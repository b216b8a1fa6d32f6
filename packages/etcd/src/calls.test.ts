import { describe, expect, it } from "vitest";
import { openStream, unaryCall } from "./calls.js";
import type { EtcdPool, GrpcMetadata, Member } from "./etcd3-pool.js";

const member = { host: "127.0.0.1:1" } as Member;
const metadata = { clone: () => metadata, set: () => {} } as unknown as GrpcMetadata;
const stream = { on: () => stream };

/** A pool whose one connection has `client`, as etcd3's generated clients are shaped. */
function poolWith(client: object): EtcdPool {
  return {
    members: [member],
    withConnection: async (_service, fn) => fn({ member, client, metadata }),
    markFailed: () => {},
    callOptions: () => ({ deadline: 1 }),
    invalidateAuthToken: () => {},
    serviceClient: () => client,
  };
}

describe("openStream with a decoder of its own", () => {
  const deserialize = (bytes: Buffer) => bytes.length;

  it("opens through makeBidiStreamRequest with the method's path and encoder", async () => {
    const calls: unknown[][] = [];
    const serialize = () => Buffer.alloc(0);
    const watch = Object.assign(() => stream, {
      path: "/etcdserverpb.Watch/Watch",
      requestSerialize: serialize,
    });
    const client = {
      watch,
      makeBidiStreamRequest: (...args: unknown[]) => {
        calls.push(args);
        return stream;
      },
    };
    const opened = await openStream(poolWith(client), "Watch", "watch", { deserialize });
    expect(opened.stream).toBe(stream);
    expect(calls).toEqual([["/etcdserverpb.Watch/Watch", serialize, deserialize, metadata, { deadline: 1 }]]);
  });

  it("keeps the generated method (and its decoder) when the client lacks the parts", async () => {
    for (const client of [
      {
        watch: Object.assign(() => stream, { path: "/etcdserverpb.Watch/Watch" }),
        makeBidiStreamRequest() {},
      },
      { watch: Object.assign(() => stream, { path: "/p", requestSerialize: () => Buffer.alloc(0) }) },
    ]) {
      const args: unknown[][] = [];
      client.watch = Object.assign((...given: unknown[]) => {
        args.push(given);
        return stream;
      }, client.watch);
      await openStream(poolWith(client), "Watch", "watch", { deserialize });
      expect(args).toEqual([[metadata, { deadline: 1 }]]);
    }
  });
});

describe("unaryCall with a decoder of its own", () => {
  const deserialize = (bytes: Buffer) => bytes.length;

  it("calls through makeUnaryRequest with the method's path and encoder", async () => {
    const calls: unknown[][] = [];
    const serialize = () => Buffer.alloc(0);
    const range = Object.assign(() => {}, { path: "/etcdserverpb.KV/Range", requestSerialize: serialize });
    const client = {
      range,
      makeUnaryRequest: (...args: unknown[]) => {
        calls.push(args.slice(0, 6));
        (args[6] as (error: Error | null, response?: unknown) => void)(null, 42);
      },
    };
    const outcome = await unaryCall(poolWith(client), "KV", "range", { key: "k" }, { deserialize });
    expect(outcome).toEqual({ response: 42 });
    expect(calls).toEqual([
      ["/etcdserverpb.KV/Range", serialize, deserialize, { key: "k" }, metadata, { deadline: 1 }],
    ]);
  });

  it("keeps the generated method when the client cannot call it with another decoder", async () => {
    const args: unknown[][] = [];
    const range = Object.assign(
      (...given: unknown[]) => {
        args.push(given.slice(0, 3));
        (given[3] as (error: Error | null, response?: unknown) => void)(null, "theirs");
      },
      { path: "/etcdserverpb.KV/Range", requestSerialize: () => Buffer.alloc(0) },
    );
    const outcome = await unaryCall(poolWith({ range }), "KV", "range", { key: "k" }, { deserialize });
    expect(outcome).toEqual({ response: "theirs" });
    expect(args).toEqual([[{ key: "k" }, metadata, { deadline: 1 }]]);
  });
});
