/**
 * etcd's `WatchResponse` and `RangeResponse` read straight off the wire, into the shape etcd3's generated
 * client gives (its protobufjs loader with `keepCase`, `longs: String`, `enums: String`, `defaults:
 * true`): every int64 a decimal string, exact to 64 bits (lease ids use them all), bytes as `Buffer`
 * views of the message. protobufjs builds a generic object graph per message (every default set, every
 * int64 through its `Long`); a prefix watch and a prefix listing read a handful of fields. On an isolated
 * change that generic work was a measurable part of the delay between etcd's send and the listener, and
 * on a 10,000-key listing about a third of the read (bench/src/experiments/README.md). Only responses are
 * decoded here; requests keep etcd3's encoder.
 *
 * Fields (etcd's rpc.proto and kv.proto): WatchResponse { header 1 (ResponseHeader: revision 3),
 * watch_id 2, created 3, canceled 4, compact_revision 5, cancel_reason 6, fragment 7, events 11 };
 * RangeResponse { header 1, kvs 2, more 3, count 4 }; Event { type 1 (PUT 0, DELETE 1), kv 2, prev_kv 3 };
 * KeyValue { key 1, create_revision 2, mod_revision 3, version 4, value 5, lease 6 }. Unknown fields are
 * skipped; a malformed message throws, which grpc-js reports as the call's error.
 */

/** A key and value as etcd3's gRPC client hands them over (`longs: String`); the key is namespace-relative. */
export interface RawKeyValue {
  key: Buffer;
  value: Buffer;
  mod_revision: string;
  create_revision: string;
  version: string;
  lease: string;
}

/** The fields of etcd's `WatchResponse` a prefix watch reads, as etcd3's client decodes them. */
export interface RawWatchResponse {
  header: { revision: string };
  created: boolean;
  canceled: boolean;
  compact_revision: string;
  cancel_reason: string;
  fragment: boolean;
  // etcd3 loads its protos with `enums: String`, so the type is the enum value's name in its kv.proto.
  events: { type: "Put" | "Delete"; kv: RawKeyValue }[];
}

/** The fields of etcd's `RangeResponse` a listing reads, as etcd3's client decodes them. */
export interface RawRangeResponse {
  header: { revision: string };
  kvs: RawKeyValue[];
  more: boolean;
  count: string;
}

const EMPTY = Buffer.alloc(0);

/**
 * A cursor over one message's bytes, `[position, end)`. A nested message is read by the same cursor with
 * `end` narrowed to it ({@link Reader.message}), so a field can never run past the message it is in.
 */
class Reader {
  position = 0;
  end: number;
  constructor(readonly data: Buffer) {
    this.end = data.length;
  }

  /** A varint of at most 32 significant bits (tags, lengths, booleans, enums). */
  uint32(): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const byte = this.byte();
      result += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return result;
    }
    // Longer varints (a negative int32 takes 10 bytes) carry nothing a tag or a length can use.
    throw new RangeError("invalid etcd response: a tag or length varint is too long");
  }

  /** An int64 varint as its exact decimal text (two's complement for a negative one). */
  int64(): string {
    let value = 0;
    // Seven bytes hold 49 bits, exact in a number: every revision and version in practice ends here.
    for (let shift = 0; shift < 49; shift += 7) {
      const byte = this.byte();
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return String(value);
    }
    // Lease ids and negative values take up to ten bytes.
    let high = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (shift > 14n) throw new RangeError("invalid etcd response: an int64 varint is too long");
      const byte = this.byte();
      high |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) break;
    }
    return BigInt.asIntN(64, (high << 49n) | BigInt(value)).toString();
  }

  bool(): boolean {
    return this.uint32() !== 0;
  }

  /** The bounds of a length-delimited field's payload; moves past it. */
  span(): number {
    const length = this.uint32();
    const start = this.position;
    if (length > this.end - start)
      throw new RangeError("invalid etcd response: a field runs past its message");
    this.position = start + length;
    return start;
  }

  /** A length-delimited field's bytes, as a view of the message. */
  bytes(): Buffer {
    const from = this.span();
    return this.data.subarray(from, this.position);
  }

  /** A length-delimited field read by `read`, with the cursor narrowed to the field's bytes. */
  message<T>(read: (reader: Reader) => T): T {
    const start = this.span();
    const after = this.position;
    const outer = this.end;
    this.position = start;
    this.end = after;
    const value = read(this);
    this.position = after;
    this.end = outer;
    return value;
  }

  skip(wireType: number): void {
    if (wireType === 0) {
      while (this.byte() >= 0x80) {}
    } else if (wireType === 2) this.span();
    else if (wireType === 1 || wireType === 5) {
      const size = wireType === 1 ? 8 : 4;
      if (this.end - this.position < size) throw new RangeError("invalid etcd response: truncated field");
      this.position += size;
    } else throw new RangeError(`invalid etcd response: wire type ${wireType}`);
  }

  byte(): number {
    if (this.position >= this.end) throw new RangeError("invalid etcd response: truncated varint");
    return this.data[this.position++]!;
  }
}

/** A key-value with every field at its default, as etcd3's decoder gives an absent one. */
function emptyKeyValue(): RawKeyValue {
  return { key: EMPTY, value: EMPTY, mod_revision: "0", create_revision: "0", version: "0", lease: "0" };
}

function keyValue(reader: Reader): RawKeyValue {
  const kv = emptyKeyValue();
  while (reader.position < reader.end) {
    const tag = reader.uint32();
    switch (tag) {
      case 0x0a:
        kv.key = reader.bytes();
        break;
      case 0x10:
        kv.create_revision = reader.int64();
        break;
      case 0x18:
        kv.mod_revision = reader.int64();
        break;
      case 0x20:
        kv.version = reader.int64();
        break;
      case 0x2a:
        kv.value = reader.bytes();
        break;
      case 0x30:
        kv.lease = reader.int64();
        break;
      default:
        reader.skip(tag & 7);
    }
  }
  return kv;
}

function event(reader: Reader): RawWatchResponse["events"][number] {
  let type: "Put" | "Delete" = "Put";
  let kv: RawKeyValue | undefined;
  while (reader.position < reader.end) {
    const tag = reader.uint32();
    if (tag === 0x08) type = reader.uint32() === 1 ? "Delete" : "Put";
    else if (tag === 0x12) kv = reader.message(keyValue);
    else reader.skip(tag & 7);
  }
  return { type, kv: kv ?? emptyKeyValue() };
}

function headerRevision(reader: Reader): string {
  let revision = "0";
  while (reader.position < reader.end) {
    const tag = reader.uint32();
    if (tag === 0x18) revision = reader.int64();
    else reader.skip(tag & 7);
  }
  return revision;
}

/** Decodes one `WatchResponse` message (gRPC's framing already removed). */
export function decodeWatchResponse(bytes: Buffer): RawWatchResponse {
  const response: RawWatchResponse = {
    header: { revision: "0" },
    created: false,
    canceled: false,
    compact_revision: "0",
    cancel_reason: "",
    fragment: false,
    events: [],
  };
  const reader = new Reader(bytes);
  while (reader.position < reader.end) {
    const tag = reader.uint32();
    switch (tag) {
      case 0x0a:
        response.header = { revision: reader.message(headerRevision) };
        break;
      case 0x18:
        response.created = reader.bool();
        break;
      case 0x20:
        response.canceled = reader.bool();
        break;
      case 0x28:
        response.compact_revision = reader.int64();
        break;
      case 0x32:
        response.cancel_reason = reader.bytes().toString("utf8");
        break;
      case 0x38:
        response.fragment = reader.bool();
        break;
      case 0x5a:
        response.events.push(reader.message(event));
        break;
      default:
        reader.skip(tag & 7);
    }
  }
  return response;
}

/** Decodes one `RangeResponse` message (gRPC's framing already removed). */
export function decodeRangeResponse(bytes: Buffer): RawRangeResponse {
  const response: RawRangeResponse = { header: { revision: "0" }, kvs: [], more: false, count: "0" };
  const reader = new Reader(bytes);
  while (reader.position < reader.end) {
    const tag = reader.uint32();
    switch (tag) {
      case 0x0a:
        response.header = { revision: reader.message(headerRevision) };
        break;
      case 0x12:
        response.kvs.push(reader.message(keyValue));
        break;
      case 0x18:
        response.more = reader.bool();
        break;
      case 0x20:
        response.count = reader.int64();
        break;
      default:
        reader.skip(tag & 7);
    }
  }
  return response;
}
