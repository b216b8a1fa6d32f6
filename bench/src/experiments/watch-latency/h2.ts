// A Watch stream on a bare node:http2 client session, without @grpc/grpc-js: one POST to
// /etcdserverpb.Watch/Watch, the length-prefixed WatchCreateRequest of wire.ts written to it, and the
// DATA chunks it receives cut into 5-byte-prefixed gRPC messages and decoded by wire.ts. What Node's own
// HTTP/2 costs a watch event, without grpc-js's call stack (filters, the message framer, the call's
// listener chain, the stream's Readable) between the socket and the listener.
import * as http2 from "node:http2";
import * as net from "node:net";
import { now } from "../../support.js";
import type { Close, VariantContext } from "./variants.js";
import { decodeWatchResponse, encodeCreateRequest, type WireWatchResponse } from "./wire.js";

/** A gRPC message on the wire: a 0 (not compressed) byte, the length as a big-endian uint32, the bytes. */
function grpcMessage(message: Buffer): Buffer {
  const framed = Buffer.allocUnsafe(5 + message.length);
  framed[0] = 0;
  framed.writeUInt32BE(message.length, 1);
  message.copy(framed, 5);
  return framed;
}

const EMPTY = Buffer.alloc(0);

/**
 * Cuts the DATA chunks of a gRPC response into messages: whole messages in a chunk are decoded in place
 * (no copy); a message split over chunks is kept until its last byte arrives.
 */
function messageReader(onMessage: (response: WireWatchResponse) => void): (chunk: Buffer) => void {
  let held: Buffer = EMPTY;
  return (chunk) => {
    const data = held.length === 0 ? chunk : Buffer.concat([held, chunk]);
    let offset = 0;
    while (data.length - offset >= 5) {
      if (data[offset] !== 0) throw new Error("compressed gRPC message: not negotiated");
      const end = offset + 5 + data.readUInt32BE(offset + 1);
      if (end > data.length) break;
      onMessage(decodeWatchResponse(data.subarray(offset + 5, end)));
      offset = end;
    }
    held = offset === data.length ? EMPTY : data.subarray(offset);
  };
}

export interface H2Tuning {
  /** The session's and every stream's receive window (HTTP/2 SETTINGS_INITIAL_WINDOW_SIZE and the
   * connection window), instead of the 65,535-byte default grpc-js keeps too. */
  readonly window?: number;
}

/**
 * Opens the watch on a session of its own (a TCP connection with Nagle off, as grpc-js has it) and
 * resolves once etcd confirmed it (`created`). `tuning` lifts the flow-control windows and the session's
 * memory limit.
 */
export async function openH2Watch(
  context: VariantContext,
  name: string,
  tuning: H2Tuning = {},
): Promise<Close> {
  const url = new URL(`http://${context.endpoint}`);
  const session = http2.connect(url, {
    createConnection: () => net.connect({ host: url.hostname, port: Number(url.port), noDelay: true }),
    maxSessionMemory: Number.MAX_SAFE_INTEGER,
    ...(tuning.window ? { settings: { initialWindowSize: tuning.window } } : {}),
  });
  if (tuning.window) session.on("connect", () => session.setLocalWindowSize(tuning.window!));
  const created = Promise.withResolvers<void>();
  const fail = (error: Error) => {
    if (!/cancel/i.test(error.message)) console.error(`[${name}] ${error.message}`);
    created.reject(error);
  };
  session.on("error", fail);
  const stream = session.request(
    {
      ":method": "POST",
      ":path": "/etcdserverpb.Watch/Watch",
      "content-type": "application/grpc",
      te: "trailers",
    },
    { endStream: false },
  );
  stream.on("error", fail);
  stream.on("response", (headers) => {
    const status = headers["grpc-status"];
    if (headers[":status"] !== 200 || (status !== undefined && status !== "0")) {
      fail(
        new Error(`Watch answered ${headers[":status"]}, grpc-status ${status}: ${headers["grpc-message"]}`),
      );
    }
  });
  stream.on("trailers", (trailers) => {
    if (trailers["grpc-status"] !== "0") {
      fail(new Error(`Watch ended: grpc-status ${trailers["grpc-status"]}: ${trailers["grpc-message"]}`));
    }
  });
  stream.on(
    "data",
    messageReader((response) => {
      if (response.created) created.resolve();
      for (const event of response.events) {
        if (event.type !== "put") continue;
        const at = now();
        context.record(name, (JSON.parse(event.value.toString()) as { Addr: string }).Addr, at);
      }
    }),
  );
  const key = Buffer.from(`${context.service}/`);
  const rangeEnd = Buffer.from(key);
  rangeEnd[rangeEnd.length - 1]! += 1;
  stream.write(grpcMessage(encodeCreateRequest({ key, rangeEnd, progressNotify: true })));
  await created.promise;
  return async () => {
    stream.close(http2.constants.NGHTTP2_CANCEL);
    await new Promise<void>((resolve) => session.close(resolve));
  };
}
