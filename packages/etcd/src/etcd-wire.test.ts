import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  decodeRangeResponse,
  decodeWatchResponse,
  type RawRangeResponse,
  type RawWatchResponse,
} from "./etcd-wire.js";

// etcd3's own codec for the Watch stream: its protos, loaded by the @grpc/proto-loader it depends on with
// the options its connection pool uses. The decoder under test must give what this one gives.
const require = createRequire(import.meta.url);
const etcd3Dir = dirname(require.resolve("etcd3/package.json"));
const loader = createRequire(join(etcd3Dir, "package.json"))("@grpc/proto-loader") as {
  loadSync(file: string, options: object): Record<string, unknown>;
};
const definition = loader.loadSync(join(etcd3Dir, "proto", "rpc.proto"), {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
});
const watch = (definition["etcdserverpb.Watch"] as Record<string, unknown>)["Watch"] as {
  responseSerialize(value: object): Buffer;
  responseDeserialize(bytes: Buffer): RawWatchResponse;
};

const range = (definition["etcdserverpb.KV"] as Record<string, unknown>)["Range"] as {
  responseSerialize(value: object): Buffer;
  responseDeserialize(bytes: Buffer): RawRangeResponse;
};

const readKeyValue = (kv: RawWatchResponse["events"][number]["kv"] | undefined) => ({
  key: kv?.key.toString("hex"),
  value: kv?.value.toString("hex"),
  mod_revision: kv?.mod_revision,
  create_revision: kv?.create_revision,
  version: kv?.version,
  lease: kv?.lease,
});

/** The fields a listing reads, from either decoder. */
function readRange(response: RawRangeResponse) {
  return {
    revision: response.header?.revision ?? "0",
    kvs: response.kvs.map(readKeyValue),
    more: response.more,
    count: response.count,
  };
}

/** The fields a prefix watch reads, from either decoder. */
function read(response: RawWatchResponse) {
  return {
    revision: response.header?.revision ?? "0",
    created: response.created,
    canceled: response.canceled,
    compact_revision: response.compact_revision,
    cancel_reason: response.cancel_reason,
    fragment: response.fragment,
    events: (response.events ?? []).map((event) => ({ type: event.type, ...readKeyValue(event.kv) })),
  };
}

/** A small deterministic generator (mulberry32), so a failure repeats. */
function random(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(values: readonly T[]): T => values[Math.floor(next() * values.length)]!;
  return { next, pick };
}

// Each varint length from one byte to ten, and the edges between them.
const INT64S = [
  "0",
  "1",
  "127",
  "128",
  "16384",
  String(2 ** 28 - 1),
  String(2 ** 28),
  String(2 ** 49 - 1),
  String(2 ** 49),
  "9007199254740993", // 2^53 + 1: not a double
  "7587869215453906113", // a lease id as etcd makes them
  "9223372036854775807",
  "-1",
  "-9223372036854775808",
];

function generatedRange(seed: number): object {
  const { next, pick } = random(seed);
  const kvs = Array.from({ length: Math.floor(next() * 20) }, (_, i) => ({
    key: Buffer.from(`svc/${seed}/${i}`),
    value: Buffer.from(`{"Op":0,"Addr":"10.0.${i}.${seed % 256}:50051","Metadata":null}`),
    create_revision: pick(INT64S),
    mod_revision: pick(INT64S),
    version: pick(INT64S),
    lease: pick(INT64S),
  }));
  return {
    ...(next() < 0.9 ? { header: { cluster_id: pick(INT64S), revision: pick(INT64S), raft_term: "3" } } : {}),
    kvs,
    more: next() < 0.5,
    count: pick(INT64S),
  };
}

function generated(seed: number): object {
  const { next, pick } = random(seed);
  const bytes = (max: number) =>
    Buffer.from(Array.from({ length: Math.floor(next() * max) }, () => Math.floor(next() * 256)));
  const keyValue = () => ({
    key: bytes(40),
    value:
      next() < 0.8 ? Buffer.from(`{"Op":0,"Addr":"10.0.0.${seed % 256}:50051","Metadata":null}`) : bytes(300),
    create_revision: pick(INT64S),
    mod_revision: pick(INT64S),
    version: pick(INT64S),
    lease: pick(INT64S),
  });
  return {
    ...(next() < 0.9
      ? {
          header: {
            cluster_id: pick(INT64S),
            member_id: pick(INT64S),
            revision: pick(INT64S),
            raft_term: "7",
          },
        }
      : {}),
    watch_id: pick(INT64S),
    created: next() < 0.2,
    canceled: next() < 0.2,
    compact_revision: pick(INT64S),
    cancel_reason: next() < 0.3 ? "etcdserver: permission denied — ключ ✓" : "",
    fragment: next() < 0.3,
    events: Array.from({ length: Math.floor(next() * 5) }, () => ({
      type: next() < 0.5 ? "PUT" : "DELETE",
      kv: keyValue(),
      ...(next() < 0.3 ? { prev_kv: keyValue() } : {}),
    })),
  };
}

/**
 * Decodes every cut of `encoded` with both decoders (each reading through `fields`). Where etcd3's decoder
 * throws, this one must throw a RangeError; where it reads, this one must read the same, or refuse inside
 * a varint or a string: protobufjs reads a long varint cut after its fourth byte, and a string cut short,
 * without noticing (see "refuses an int64 or a string cut short"). Counts both kinds of refusal.
 */
function checkCuts<R>(
  encoded: Buffer,
  theirs: (bytes: Buffer) => R,
  ours: (bytes: Buffer) => R,
  fields: (response: R) => unknown,
  label: string,
  counts: { threw: number; lenient: number },
): void {
  for (let length = 0; length < encoded.length; length++) {
    const cut = encoded.subarray(0, length);
    const where = `${label}, ${length} bytes`;
    let read: unknown;
    try {
      read = fields(theirs(cut));
    } catch {
      expect(() => ours(cut), where).toThrow(RangeError);
      counts.threw++;
      continue;
    }
    let response: R;
    try {
      response = ours(cut);
    } catch (error) {
      expect((error as Error).message, where).toMatch(/truncated varint|runs past its message/);
      counts.lenient++;
      continue;
    }
    expect(fields(response), where).toEqual(read);
  }
}

describe("decodeWatchResponse", () => {
  it("reads every field a watch uses as etcd3's decoder does, int64s exact to 64 bits", () => {
    let events = 0;
    for (let seed = 1; seed <= 2_000; seed++) {
      const encoded = watch.responseSerialize(generated(seed));
      const ours = decodeWatchResponse(encoded);
      expect(read(ours), `seed ${seed}`).toEqual(read(watch.responseDeserialize(encoded)));
      events += ours.events.length;
    }
    // The generator did produce events, of both types, with 64-bit values.
    expect(events).toBeGreaterThan(2_000);
  });

  it("reads a RangeResponse as etcd3's decoder does, and refuses a cut one wherever it does", () => {
    let kvs = 0;
    const cuts = { threw: 0, lenient: 0 };
    for (let seed = 1; seed <= 500; seed++) {
      const encoded = range.responseSerialize(generatedRange(seed));
      const ours = decodeRangeResponse(encoded);
      expect(readRange(ours), `seed ${seed}`).toEqual(readRange(range.responseDeserialize(encoded)));
      kvs += ours.kvs.length;
      if (seed <= 20) {
        const decode = (bytes: Buffer) => range.responseDeserialize(bytes);
        checkCuts(encoded, decode, decodeRangeResponse, readRange, `seed ${seed}`, cuts);
      }
    }
    expect(kvs).toBeGreaterThan(4_000);
    expect(decodeRangeResponse(Buffer.alloc(0))).toEqual({
      header: { revision: "0" },
      kvs: [],
      more: false,
      count: "0",
    });
  });

  it("gives the defaults etcd3's decoder gives for an empty message", () => {
    const empty = decodeWatchResponse(Buffer.alloc(0));
    expect(read(empty)).toEqual(read(watch.responseDeserialize(Buffer.alloc(0))));
    expect(empty).toEqual({
      header: { revision: "0" },
      created: false,
      canceled: false,
      compact_revision: "0",
      cancel_reason: "",
      fragment: false,
      events: [],
    });
  });

  it("throws on a cut message wherever etcd3's decoder does, and reads what it reads otherwise", () => {
    const cuts = { threw: 0, lenient: 0 };
    for (let seed = 1; seed <= 60; seed++) {
      const encoded = watch.responseSerialize(generated(seed));
      const decode = (bytes: Buffer) => watch.responseDeserialize(bytes);
      checkCuts(encoded, decode, decodeWatchResponse, read, `seed ${seed}`, cuts);
    }
    expect(cuts.threw).toBeGreaterThan(100);
    expect(cuts.lenient).toBeLessThan(cuts.threw);
  });

  it("refuses an int64 or a string cut short, which etcd3's decoder misreads", () => {
    const long = watch.responseSerialize({ compact_revision: "-1" }).subarray(0, 5);
    expect(watch.responseDeserialize(long).compact_revision).not.toBe("-1");
    expect(() => decodeWatchResponse(long)).toThrow(/truncated varint/);
    const text = watch.responseSerialize({ cancel_reason: "etcdserver: mvcc: required revision" });
    const short = text.subarray(0, 10);
    expect(watch.responseDeserialize(short).cancel_reason).toBe("etcdserv");
    expect(() => decodeWatchResponse(short)).toThrow(/runs past its message/);
  });

  it("skips fields it does not know, of every wire type, and refuses groups", () => {
    const known = watch.responseSerialize({ created: true, header: { revision: "42" } });
    const unknown = Buffer.from([
      0x60,
      0x96,
      0x01, // field 12, varint
      0x69,
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8, // field 13, 64-bit
      0x72,
      0x02,
      0xaa,
      0xbb, // field 14, bytes
      0x7d,
      1,
      2,
      3,
      4, // field 15, 32-bit
    ]);
    const response = decodeWatchResponse(Buffer.concat([unknown, known]));
    expect(response.created).toBe(true);
    expect(response.header.revision).toBe("42");
    expect(() => decodeWatchResponse(Buffer.from([0x63]))).toThrow(/wire type 3/);
  });

  it("keeps bytes as views of the message, not copies", () => {
    const encoded = watch.responseSerialize({
      events: [{ type: "PUT", kv: { key: Buffer.from("svc/a"), value: Buffer.from("v") } }],
    });
    const kv = decodeWatchResponse(encoded).events[0]!.kv;
    expect(kv.key.toString()).toBe("svc/a");
    expect(kv.key.buffer).toBe(encoded.buffer);
  });
});
