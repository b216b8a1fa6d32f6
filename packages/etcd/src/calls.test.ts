import { describe, expect, it } from "vitest";
import { openStream } from "./calls.js";
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
