// A Watch stream over a bare TCP socket, without node:http2: the HTTP/2 frames one watch needs, written and
// read by hand on a `net.Socket` (a client preface, SETTINGS with windows of 2³¹−1, one HEADERS frame in
// HPACK literals, the create request in a DATA frame; SETTINGS and PING answered, DATA cut into gRPC
// messages and decoded by wire.ts). What is left when nghttp2 and node:http2's streams are gone too: the
// wake-up of the process, libuv's read and the socket's `data` callback. `${name}.socket` records when the
// bytes that carried an event reached that callback, before any parsing.
import * as net from "node:net";
import { now } from "../../support.js";
import type { Close, VariantContext } from "./variants.js";
import { decodeWatchResponse, encodeCreateRequest } from "./wire.js";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
const WINDOW = 2 ** 31 - 1;
const DATA = 0;
const HEADERS = 1;
const RST_STREAM = 3;
const SETTINGS = 4;
const PING = 6;
const GOAWAY = 7;
const ACK = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;

function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(9 + payload.length);
  out.writeUIntBE(payload.length, 0, 3);
  out[3] = type;
  out[4] = flags;
  out.writeUInt32BE(stream, 5);
  payload.copy(out, 9);
  return out;
}

/** An HPACK string literal (no Huffman coding) of fewer than 127 bytes. */
function literal(text: string): Buffer {
  const bytes = Buffer.from(text);
  if (bytes.length >= 127) throw new Error("header too long for this experiment");
  return Buffer.concat([Buffer.from([bytes.length]), bytes]);
}

/** The request's header block: static-table entries where RFC 7541 has them, literals without indexing. */
function requestHeaders(authority: string): Buffer {
  return Buffer.concat([
    Buffer.from([0x83, 0x86]), // :method POST, :scheme http
    Buffer.from([0x04]), // :path, name from the static table (4)
    literal("/etcdserverpb.Watch/Watch"),
    Buffer.from([0x01]), // :authority (1)
    literal(authority),
    Buffer.from([0x0f, 0x10]), // content-type (31)
    literal("application/grpc"),
    Buffer.from([0x00]),
    literal("te"),
    literal("trailers"),
  ]);
}

export async function openNetWatch(context: VariantContext, name: string): Promise<Close> {
  const colon = context.endpoint.lastIndexOf(":");
  const [host, port] = [context.endpoint.slice(0, colon), context.endpoint.slice(colon + 1)];
  const socket = net.connect({ host, port: Number(port), noDelay: true });
  const created = Promise.withResolvers<void>();
  let closing = false;
  const fail = (error: Error) => {
    if (!closing) console.error(`[${name}] ${error.message}`);
    created.reject(error);
  };
  socket.on("error", fail);

  const settings = Buffer.alloc(12);
  settings.writeUInt16BE(0x2, 0); // ENABLE_PUSH 0
  settings.writeUInt32BE(0, 2);
  settings.writeUInt16BE(0x4, 6); // INITIAL_WINDOW_SIZE
  settings.writeUInt32BE(WINDOW, 8);
  const increment = Buffer.alloc(4);
  increment.writeUInt32BE(WINDOW - 65_535, 0);
  const key = Buffer.from(`${context.service}/`);
  const rangeEnd = Buffer.from(key);
  rangeEnd[rangeEnd.length - 1]! += 1;
  const create = encodeCreateRequest({ key, rangeEnd, progressNotify: true });
  const message = Buffer.allocUnsafe(5 + create.length);
  message[0] = 0;
  message.writeUInt32BE(create.length, 1);
  create.copy(message, 5);
  socket.write(
    Buffer.concat([
      PREFACE,
      frame(SETTINGS, 0, 0, settings),
      frame(8, 0, 0, increment), // WINDOW_UPDATE of the connection
      frame(HEADERS, END_HEADERS, 1, requestHeaders(context.endpoint)),
      frame(DATA, 0, 1, message),
    ]),
  );

  // gRPC messages of stream 1, which may span DATA frames; frames may span reads.
  let pending: Buffer = Buffer.alloc(0);
  let grpcBuffer: Buffer = Buffer.alloc(0);
  const onGrpcBytes = (bytes: Buffer, socketAt: bigint) => {
    grpcBuffer = grpcBuffer.length === 0 ? bytes : Buffer.concat([grpcBuffer, bytes]);
    let offset = 0;
    while (grpcBuffer.length - offset >= 5) {
      const end = offset + 5 + grpcBuffer.readUInt32BE(offset + 1);
      if (end > grpcBuffer.length) break;
      const response = decodeWatchResponse(grpcBuffer.subarray(offset + 5, end));
      offset = end;
      if (response.created) created.resolve();
      for (const event of response.events) {
        if (event.type !== "put") continue;
        const at = now();
        const addr = (JSON.parse(event.value.toString()) as { Addr: string }).Addr;
        context.record(name, addr, at);
        context.record(`${name}.socket`, addr, socketAt);
      }
    }
    grpcBuffer = offset === grpcBuffer.length ? Buffer.alloc(0) : grpcBuffer.subarray(offset);
  };
  socket.on("data", (chunk: Buffer) => {
    const socketAt = now();
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    let offset = 0;
    while (pending.length - offset >= 9) {
      const length = pending.readUIntBE(offset, 3);
      if (pending.length - offset < 9 + length) break;
      const type = pending[offset + 3]!;
      const flags = pending[offset + 4]!;
      const stream = pending.readUInt32BE(offset + 5) & 0x7fffffff;
      let payload = pending.subarray(offset + 9, offset + 9 + length);
      offset += 9 + length;
      if (type === DATA && stream === 1) {
        if (flags & PADDED) payload = payload.subarray(1, payload.length - payload[0]!);
        onGrpcBytes(payload, socketAt);
      } else if (type === SETTINGS && !(flags & ACK)) {
        socket.write(frame(SETTINGS, ACK, 0, Buffer.alloc(0)));
      } else if (type === PING && !(flags & ACK)) {
        socket.write(frame(PING, ACK, 0, Buffer.from(payload)));
      } else if (type === RST_STREAM || type === GOAWAY) {
        fail(new Error(`etcd sent ${type === GOAWAY ? "GOAWAY" : "RST_STREAM"}`));
      } else if (type === HEADERS && stream === 1 && flags & 0x1) {
        fail(new Error("the Watch stream ended (trailers)"));
      }
      // Other frames (WINDOW_UPDATE, response HEADERS) need nothing for one watch with open windows.
    }
    pending = offset === pending.length ? Buffer.alloc(0) : pending.subarray(offset);
  });
  await created.promise;
  return async () => {
    closing = true;
    await new Promise<void>((resolve) => socket.end(resolve));
    socket.destroy();
  };
}
