// The shapes that etcd's Go endpoints.Manager and encodeEndpoint write for nearly every endpoint,
//   {"Op":N,"Addr":"A"}   {"Op":N,"Addr":"A","Metadata":null}   {"Op":N,"Addr":"A","Metadata":"M"}
// exactly so (no whitespace, this field order and casing), with N one digit and A (not empty) and M
// strings without escapes or control characters. Reading them needs none of the general parser's work
// (Go's error rules, case folding, duplicate fields, escapes): for such a text readCommonEnvelope gives
// what parseGoEnvelope gives, and for any other text undefined, so the caller falls back to the parser.
// properties.test.ts holds the two to the same result over generated texts near and inside these shapes.

import type { GoEnvelope } from "./go-json-decode.js";
import { asciiText } from "./utf8.js";

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const RBRACE = 0x7d;

const OPEN = '{"Op":';
const ADDR = ',"Addr":"';
const METADATA_NULL = ',"Metadata":null}';
const METADATA_STRING = ',"Metadata":"';
/** Where the address starts: after `{"Op":N,"Addr":"`. */
const ADDR_START = OPEN.length + 1 + ADDR.length;

/**
 * The envelope of `text` (well-formed UTF-16, as parseGoEnvelope takes it) when it has one of the common
 * shapes and a non-empty address; otherwise undefined.
 */
export function readCommonEnvelope(text: string): GoEnvelope | undefined {
  if (!text.startsWith(OPEN)) return undefined;
  const op = text.charCodeAt(OPEN.length) - 0x30;
  if (!(op >= 0 && op <= 9) || !text.startsWith(ADDR, OPEN.length + 1)) return undefined;
  const addrEnd = plainStringEnd(text, ADDR_START);
  if (addrEnd <= ADDR_START) return undefined;
  const addr = text.slice(ADDR_START, addrEnd);
  const rest = addrEnd + 1;
  const left = text.length - rest;
  if (left === 1) return text.charCodeAt(rest) === RBRACE ? { op, addr, metadata: null } : undefined;
  if (left === METADATA_NULL.length && text.endsWith(METADATA_NULL)) return { op, addr, metadata: null };
  if (!text.startsWith(METADATA_STRING, rest)) return undefined;
  const metadataStart = rest + METADATA_STRING.length;
  const metadataEnd = plainStringEnd(text, metadataStart);
  if (metadataEnd !== text.length - 2 || text.charCodeAt(metadataEnd + 1) !== RBRACE) return undefined;
  return { op, addr, metadata: text.slice(metadataStart, metadataEnd) };
}

/**
 * The index of the quote that closes a string starting at `from`, when nothing before it needs
 * decoding (no escape, no control character); -1 otherwise.
 */
function plainStringEnd(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) return i;
    if (c < 0x20 || c === BACKSLASH) return -1;
  }
  return -1;
}

const bytesOf = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0));
const OPEN_BYTES = bytesOf(OPEN);
const ADDR_BYTES = bytesOf(ADDR);
const METADATA_NULL_BYTES = bytesOf(METADATA_NULL);
const METADATA_STRING_BYTES = bytesOf(METADATA_STRING);

/**
 * {@link readCommonEnvelope} of a value's bytes, without decoding the whole value first: the envelope when
 * the bytes are one of the common shapes in ASCII, otherwise undefined (the caller then decodes the text).
 * An ASCII value's text is its bytes, so the two agree wherever this one answers.
 */
export function readCommonEnvelopeBytes(bytes: Uint8Array): GoEnvelope | undefined {
  if (!startsWith(bytes, OPEN_BYTES, 0)) return undefined;
  const op = bytes[OPEN.length]! - 0x30;
  if (!(op >= 0 && op <= 9) || !startsWith(bytes, ADDR_BYTES, OPEN.length + 1)) return undefined;
  const addrEnd = plainAsciiEnd(bytes, ADDR_START);
  if (addrEnd <= ADDR_START) return undefined;
  const rest = addrEnd + 1;
  const left = bytes.length - rest;
  let metadata: string | null = null;
  if (left === 1) {
    if (bytes[rest] !== RBRACE) return undefined;
  } else if (!(left === METADATA_NULL.length && startsWith(bytes, METADATA_NULL_BYTES, rest))) {
    if (!startsWith(bytes, METADATA_STRING_BYTES, rest)) return undefined;
    const metadataStart = rest + METADATA_STRING.length;
    const metadataEnd = plainAsciiEnd(bytes, metadataStart);
    if (metadataEnd !== bytes.length - 2 || bytes[metadataEnd + 1] !== RBRACE) return undefined;
    metadata = asciiText(bytes, metadataStart, metadataEnd);
  }
  return { op, addr: asciiText(bytes, ADDR_START, addrEnd), metadata };
}

function startsWith(bytes: Uint8Array, expected: Uint8Array, at: number): boolean {
  if (bytes.length < at + expected.length) return false;
  for (let i = 0; i < expected.length; i++) if (bytes[at + i] !== expected[i]) return false;
  return true;
}

/**
 * The index of the quote that closes a string starting at `from`, when everything before it is ASCII
 * that needs no decoding (no escape, no control character); -1 otherwise.
 */
function plainAsciiEnd(bytes: Uint8Array, from: number): number {
  for (let i = from; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (c === QUOTE) return i;
    if (c < 0x20 || c === BACKSLASH || c >= 0x80) return -1;
  }
  return -1;
}
