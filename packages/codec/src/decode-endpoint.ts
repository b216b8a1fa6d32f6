import { readCommonEnvelope, readCommonEnvelopeBytes } from "./common-envelope.js";
import type { Operation } from "./endpoint.js";
import { type GoEnvelope, parseGoEnvelope } from "./go-json-decode.js";
import { checkLimit, DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH } from "./limits.js";
import { NamingError } from "./naming-error.js";
import { decodeUtf8, toWellFormed, utf8Length } from "./utf8.js";

/** An endpoint read from etcd. */
export interface DecodedEndpoint {
  /** `Delete` only when the stored `Op` is 1; Go's resolvers treat every put as an add regardless. */
  op: Operation;
  addr: string;
  /** The stored metadata, `null` when absent. Objects are plain, with own data properties only. */
  metadata: unknown;
}

/** The outcome of {@link decodeEndpoint}: an endpoint, or the reason the value is unusable. */
export type DecodeResult = { ok: true; endpoint: DecodedEndpoint } | { ok: false; error: NamingError };

/** Options of {@link decodeEndpoint}. */
export interface DecodeOptions {
  /** Largest value read, in UTF-8 bytes (default 65536); larger ones give VALUE_TOO_LARGE. */
  maxBytes?: number;
  /** Deepest metadata nesting read (default 32); deeper gives INVALID_METADATA. */
  maxDepth?: number;
}

/**
 * Reads an etcd value as Go's endpoint decoder does: the `{"Op":0,"Addr":…,"Metadata":…}` form,
 * the older `{"Addr":…,"Metadata":…}` form, any casing of the field names, unknown fields ignored,
 * the last of duplicate fields winning. Rejects what Go rejects, plus an empty address. Never throws
 * for any value: a rejection is returned as `{ ok: false, error }` (codes INVALID_JSON,
 * INVALID_VALUE, EMPTY_ADDRESS, VALUE_TOO_LARGE, INVALID_METADATA). Only invalid options throw
 * (RangeError).
 *
 * @example
 * const r = decodeEndpoint('{"Addr":"1.2.3.4","Metadata":"..."}');
 * if (r.ok) r.endpoint.addr; // "1.2.3.4"
 * else console.warn(`skipping ${key}: ${r.error.message}`);
 */
export function decodeEndpoint(value: string | Uint8Array, options: DecodeOptions = {}): DecodeResult {
  const maxBytes = checkLimit("maxBytes", options.maxBytes, DEFAULT_MAX_BYTES);
  const maxDepth = checkLimit("maxDepth", options.maxDepth, DEFAULT_MAX_DEPTH);
  let text: string;
  // The shapes Go and encodeEndpoint write are read directly, to the same result; anything else is parsed.
  let envelope: GoEnvelope | undefined;
  if (typeof value === "string") {
    const size = utf8Length(value);
    if (size > maxBytes) return tooLarge(size, maxBytes);
    text = toWellFormed(value);
    envelope = readCommonEnvelope(text);
  } else if (isBytes(value)) {
    if (value.byteLength > maxBytes) return tooLarge(value.byteLength, maxBytes);
    // etcd's values are bytes: a common shape in ASCII is read from them, with no text of the whole value.
    envelope = readCommonEnvelopeBytes(value);
    text = envelope === undefined ? decodeUtf8(value) : "";
    envelope ??= readCommonEnvelope(text);
  } else {
    const kind = value === null ? "null" : typeof value;
    return fail(new NamingError("INVALID_VALUE", `value must be a string or a Uint8Array, got ${kind}`));
  }
  if (envelope === undefined) {
    const parsed = parseGoEnvelope(text, maxDepth);
    if (!parsed.ok) return parsed;
    envelope = parsed.envelope;
  }
  if (envelope.addr === "") {
    return fail(new NamingError("EMPTY_ADDRESS", "value has no address (Addr is missing, null or empty)"));
  }
  // The envelope was made for this call and has the endpoint's fields: it becomes the endpoint.
  const endpoint = envelope as DecodedEndpoint;
  endpoint.op = envelope.op === 1 ? 1 : 0;
  return { ok: true, endpoint };
}

function isBytes(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array || Object.prototype.toString.call(value) === "[object Uint8Array]";
}

function tooLarge(size: number, maxBytes: number): DecodeResult {
  return fail(new NamingError("VALUE_TOO_LARGE", `value is ${size} bytes, over the limit of ${maxBytes}`));
}

function fail(error: NamingError): DecodeResult {
  return { ok: false, error };
}
