// etcd's responses as hostile bytes: whatever a member (or something posing as one) sends, the etcd
// layer's decoders either read it or refuse it with a RangeError that grpc-js turns into the call's
// error. They never throw anything else, never read outside the message, and never touch
// Object.prototype; what they read is in etcd3's shape (int64s as decimal strings, bytes as views of the
// message). Well-formed messages are checked field by field against etcd3's decoder in
// packages/etcd/src/etcd-wire.test.ts.

import { decodeRangeResponse, decodeWatchResponse, type RawKeyValue } from "@etcd-naming/etcd";
import fc from "fast-check";
import { expect, it } from "vitest";
import { bump, type Counts, fuzzFile, testTimeoutFor } from "./fuzz-env.js";
import { prototypeChanges, snapshotPrototypes } from "./prototypes.js";

const fuzz = fuzzFile("etcd-wire");
const prototypes = snapshotPrototypes();
const INT64 = /^-?(0|[1-9][0-9]{0,18})$/;

/** Every value `kv` holds is of etcd3's shape, and its bytes are views inside `message`. */
function checkKeyValue(kv: RawKeyValue, message: Buffer): void {
  for (const field of ["create_revision", "mod_revision", "version", "lease"] as const) {
    expect(kv[field]).toMatch(INT64);
    expect(BigInt(kv[field]) >= -(2n ** 63n) && BigInt(kv[field]) < 2n ** 63n).toBe(true);
  }
  for (const bytes of [kv.key, kv.value]) {
    expect(Buffer.isBuffer(bytes)).toBe(true);
    if (bytes.length > 0) {
      expect(bytes.buffer).toBe(message.buffer);
      expect(bytes.byteOffset).toBeGreaterThanOrEqual(message.byteOffset);
      expect(bytes.byteOffset + bytes.length).toBeLessThanOrEqual(message.byteOffset + message.length);
    }
  }
}

/** Runs `decode`: its value, or undefined if it refused the bytes with a RangeError (anything else fails). */
function attempt<T>(decode: () => T, counts: Counts): T | undefined {
  try {
    const value = decode();
    bump(counts, "read");
    return value;
  } catch (error) {
    expect(error).toBeInstanceOf(RangeError);
    expect((error as Error).message).toMatch(/^invalid etcd response: /);
    bump(counts, "refused");
    return undefined;
  }
}

/** Bytes shaped like protobuf: tags of the fields the decoders know, with any wire type, and noise. */
const protobufish = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        0x08,
        0x0a,
        0x10,
        0x12,
        0x18,
        0x1a,
        0x20,
        0x28,
        0x2a,
        0x30,
        0x32,
        0x38,
        0x5a,
        0x63,
        0x69,
        0x7d,
      ),
      fc.integer({ min: 0, max: 255 }),
      fc.constantFrom(0x80, 0xff, 0x7f, 0x01, 0x00),
    ),
    { maxLength: 120 },
  )
  .map((bytes) => Buffer.from(bytes));
/** A varint of `value` (two's complement for a negative one). */
function varint(value: bigint): number[] {
  let rest = BigInt.asUintN(64, value);
  const bytes: number[] = [];
  while (rest > 0x7fn) {
    bytes.push(Number(rest & 0x7fn) | 0x80);
    rest >>= 7n;
  }
  bytes.push(Number(rest));
  return bytes;
}
const delimited = (tag: number, payload: Buffer) =>
  Buffer.concat([Buffer.from([tag, ...varint(BigInt(payload.length))]), payload]);
const int64 = fc.oneof(fc.bigInt(-(2n ** 63n), 2n ** 63n - 1n), fc.bigInt(0n, 1000n));
// KeyValue fields, mostly well formed, now and then a byte of noise or a cut.
const kvField = fc.oneof(
  fc
    .tuple(fc.constantFrom(0x10, 0x18, 0x20, 0x30), int64)
    .map(([tag, v]) => Buffer.from([tag, ...varint(v)])),
  fc
    .tuple(fc.constantFrom(0x0a, 0x2a), fc.uint8Array({ maxLength: 24 }))
    .map(([tag, b]) => delimited(tag, Buffer.from(b))),
  protobufish.map((b) => b.subarray(0, 3)),
);
const keyValue = fc.array(kvField, { maxLength: 7 }).map((fields) => Buffer.concat(fields));
const event = fc
  .tuple(fc.integer({ min: 0, max: 2 }), keyValue)
  .map(([type, kv]) => delimited(0x5a, Buffer.concat([Buffer.from([0x08, type]), delimited(0x12, kv)])));
const header = int64.map((revision) => delimited(0x0a, Buffer.from([0x18, ...varint(revision)])));
// Whole responses of such parts, possibly cut short anywhere.
const structured = fc
  .tuple(
    fc.array(
      fc.oneof(
        { arbitrary: event, weight: 4 },
        { arbitrary: header, weight: 2 },
        { arbitrary: keyValue.map((kv) => delimited(0x12, kv)), weight: 3 },
        { arbitrary: protobufish, weight: 1 },
      ),
      { maxLength: 6 },
    ),
    fc.nat(),
  )
  .map(([parts, cut]) => {
    const whole = Buffer.concat(parts);
    return cut % 4 === 0 ? whole.subarray(0, cut % (whole.length + 1)) : whole;
  });
const message = fc.oneof(
  fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
  protobufish,
  structured,
);

const counts: Counts = {};
const BUDGET = {
  runs: 3_000,
  runTimeoutMs: 2_000,
  shrinkMs: 10_000,
  examples: [[Buffer.alloc(0)]] as [Buffer][],
};

it("decodes or refuses any bytes as a WatchResponse and a RangeResponse, in etcd3's shape", {
  timeout: testTimeoutFor(BUDGET),
}, async () => {
  const property = fc.asyncProperty(message, async (bytes) => {
    // An offset into a larger allocation, as grpc-js hands messages over.
    const backing = Buffer.concat([Buffer.from([0xaa, 0xbb]), bytes, Buffer.from([0xcc])]);
    const view = backing.subarray(2, 2 + bytes.length);
    const watch = attempt(() => decodeWatchResponse(view), counts);
    if (watch !== undefined) {
      for (const field of [watch.header.revision, watch.compact_revision]) expect(field).toMatch(INT64);
      expect(typeof watch.cancel_reason).toBe("string");
      for (const event of watch.events) {
        expect(["Put", "Delete"]).toContain(event.type);
        checkKeyValue(event.kv, view);
      }
      bump(counts, "events", watch.events.length);
    }
    const range = attempt(() => decodeRangeResponse(view), counts);
    if (range !== undefined) {
      expect(range.header.revision).toMatch(INT64);
      expect(range.count).toMatch(INT64);
      expect(typeof range.more).toBe("boolean");
      for (const kv of range.kvs) checkKeyValue(kv, view);
      bump(counts, "kvs", range.kvs.length);
    }
    // The same bytes, decoded again, give the same reading.
    if (watch !== undefined) expect(decodeWatchResponse(view)).toEqual(watch);
    expect(prototypeChanges(prototypes)).toEqual([]);
  });
  const report = await fuzz.check("etcd responses decode or are refused", property, BUDGET, counts);
  // The search did reach both outcomes, and nested events and key-values (about 1 in 25 runs each).
  expect(counts["read"]).toBeGreaterThan(report.runs / 10);
  expect(counts["refused"]).toBeGreaterThan(report.runs / 10);
  expect(counts["events"]).toBeGreaterThan(report.runs / 100);
  expect(counts["kvs"]).toBeGreaterThan(report.runs / 100);
});
