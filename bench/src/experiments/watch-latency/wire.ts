// A hand-written protobuf codec for the only messages a prefix watch exchanges with etcd (etcdserverpb
// WatchRequest / WatchResponse, mvccpb Event / KeyValue), to tell how much of a watch event's latency
// is decoding: protobufjs through @grpc/proto-loader builds a full object graph with every default set
// and every int64 as a decimal string (etcd3's options); this reads only what a naming watch uses.

/** One event of a {@link WatchResponse}, its byte fields left as views into the received message. */
export interface WireEvent {
  type: "put" | "delete";
  key: Buffer;
  value: Buffer;
  modRevision: number;
  createRevision: number;
  lease: number;
}

export interface WireWatchResponse {
  revision: number;
  watchId: number;
  created: boolean;
  canceled: boolean;
  compactRevision: number;
  cancelReason: string;
  fragment: boolean;
  events: WireEvent[];
}

function varint(value: number): number[] {
  const bytes: number[] = [];
  let rest = value;
  while (rest > 0x7f) {
    bytes.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  bytes.push(rest);
  return bytes;
}

function lengthDelimited(field: number, payload: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([(field << 3) | 2, ...varint(payload.length)]), payload]);
}

/** `WatchRequest{create_request}` for a range from `startRevision` (0: from now). */
export function encodeCreateRequest(request: {
  key: Uint8Array;
  rangeEnd: Uint8Array;
  startRevision?: number;
  progressNotify?: boolean;
  fragment?: boolean;
}): Buffer {
  const parts: Buffer[] = [lengthDelimited(1, request.key), lengthDelimited(2, request.rangeEnd)];
  if (request.startRevision) parts.push(Buffer.from([3 << 3, ...varint(request.startRevision)]));
  if (request.progressNotify) parts.push(Buffer.from([4 << 3, 1]));
  if (request.fragment) parts.push(Buffer.from([8 << 3, 1]));
  return lengthDelimited(1, Buffer.concat(parts));
}

/** `WatchRequest{progress_request}`. */
export const PROGRESS_REQUEST: Buffer = Buffer.from([(3 << 3) | 2, 0]);

/** Reads fields of one message; int64 values below 2^53 (revisions, ids) as numbers. */
class Reader {
  position: number;
  constructor(
    readonly buffer: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.position = start;
  }

  varint(): number {
    let result = 0;
    let factor = 1;
    for (;;) {
      const byte = this.buffer[this.position++]!;
      result += (byte & 0x7f) * factor;
      if (byte < 0x80) return result;
      factor *= 0x80;
    }
  }

  /** The bounds of a length-delimited field's payload; moves past it. */
  span(): [number, number] {
    const length = this.varint();
    const start = this.position;
    this.position += length;
    return [start, this.position];
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.position += 8;
    else if (wireType === 2) this.span();
    else if (wireType === 5) this.position += 4;
    else throw new Error(`unsupported protobuf wire type ${wireType}`);
  }
}

function decodeKeyValue(buffer: Buffer, start: number, end: number, event: WireEvent): void {
  const reader = new Reader(buffer, start, end);
  while (reader.position < end) {
    const tag = reader.varint();
    const field = tag >>> 3;
    if (field === 1 || field === 5) {
      const [from, to] = reader.span();
      if (field === 1) event.key = buffer.subarray(from, to);
      else event.value = buffer.subarray(from, to);
    } else if (field === 2) event.createRevision = reader.varint();
    else if (field === 3) event.modRevision = reader.varint();
    else if (field === 6) event.lease = reader.varint();
    else reader.skip(tag & 7);
  }
}

const EMPTY = Buffer.alloc(0);

function decodeEvent(buffer: Buffer, start: number, end: number): WireEvent {
  const event: WireEvent = {
    type: "put",
    key: EMPTY,
    value: EMPTY,
    modRevision: 0,
    createRevision: 0,
    lease: 0,
  };
  const reader = new Reader(buffer, start, end);
  while (reader.position < end) {
    const tag = reader.varint();
    const field = tag >>> 3;
    if (field === 1) event.type = reader.varint() === 1 ? "delete" : "put";
    else if (field === 2) {
      const [from, to] = reader.span();
      decodeKeyValue(buffer, from, to, event);
    } else reader.skip(tag & 7);
  }
  return event;
}

function decodeHeaderRevision(buffer: Buffer, start: number, end: number): number {
  const reader = new Reader(buffer, start, end);
  let revision = 0;
  while (reader.position < end) {
    const tag = reader.varint();
    if (tag >>> 3 === 3) revision = reader.varint();
    else reader.skip(tag & 7);
  }
  return revision;
}

/** Decodes a `WatchResponse` (prev_kv and the header's ids are skipped). */
export function decodeWatchResponse(buffer: Buffer): WireWatchResponse {
  const response: WireWatchResponse = {
    revision: 0,
    watchId: 0,
    created: false,
    canceled: false,
    compactRevision: 0,
    cancelReason: "",
    fragment: false,
    events: [],
  };
  const reader = new Reader(buffer, 0, buffer.length);
  while (reader.position < buffer.length) {
    const tag = reader.varint();
    switch (tag >>> 3) {
      case 1: {
        const [from, to] = reader.span();
        response.revision = decodeHeaderRevision(buffer, from, to);
        break;
      }
      case 2:
        response.watchId = reader.varint();
        break;
      case 3:
        response.created = reader.varint() !== 0;
        break;
      case 4:
        response.canceled = reader.varint() !== 0;
        break;
      case 5:
        response.compactRevision = reader.varint();
        break;
      case 6: {
        const [from, to] = reader.span();
        response.cancelReason = buffer.toString("utf8", from, to);
        break;
      }
      case 7:
        response.fragment = reader.varint() !== 0;
        break;
      case 11: {
        const [from, to] = reader.span();
        response.events.push(decodeEvent(buffer, from, to));
        break;
      }
      default:
        reader.skip(tag & 7);
    }
  }
  return response;
}
