// etcd keys are bytes, and two keys that differ only in bytes that are not UTF-8 are two keys. A key is
// held as a string that keeps every byte: valid UTF-8 reads as the text it is, and each byte that is not
// part of valid UTF-8 becomes the lone surrogate U+DC80 + byte (PEP 383's "surrogateescape"). Decoded
// UTF-8 never holds a lone surrogate, so no two byte strings share a key string, and a key that is valid
// UTF-8 (every key written from a JS string) is exactly its text.

import { decodeUtf8With } from "./utf8.js";

const encoder = new TextEncoder();

const ESCAPE_BASE = 0xdc00;

/**
 * The key string of an etcd key's bytes: the key itself when it is valid UTF-8; otherwise each byte
 * that is not part of valid UTF-8 becomes the lone surrogate U+DC80 + byte. Two different byte strings
 * never give the same key string; {@link keyToBytes} gives the bytes back.
 *
 * @example
 * keyFromBytes(Buffer.from("svc/a")); // "svc/a"
 * keyFromBytes(Buffer.from([0x73, 0x2f, 0xff])); // "s/\udcff" (shown by printableKey as "s/\xff")
 */
export function keyFromBytes(bytes: Uint8Array): string {
  return decodeUtf8With(bytes, (byte) => ESCAPE_BASE + byte);
}

/**
 * The bytes of a key string: UTF-8, except that a lone surrogate U+DC80..U+DCFF stands for the byte
 * (U+DC80 → 0x80 … U+DCFF → 0xFF) it was read from. Another lone surrogate, which no key string holds,
 * is written as U+FFFD, as any UTF-8 encoder does. The inverse of {@link keyFromBytes}.
 */
export function keyToBytes(key: string): Uint8Array {
  if (!hasSurrogate(key)) return encoder.encode(key);
  const out: number[] = [];
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = key.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        const cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        out.push(
          0xf0 | (cp >> 18),
          0x80 | ((cp >> 12) & 0x3f),
          0x80 | ((cp >> 6) & 0x3f),
          0x80 | (cp & 0x3f),
        );
        i++;
        continue;
      }
      out.push(0xef, 0xbf, 0xbd);
    } else if (c >= 0xdc80 && c <= 0xdcff) {
      out.push(c - ESCAPE_BASE);
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      out.push(0xef, 0xbf, 0xbd);
    } else if (c < 0x80) {
      out.push(c);
    } else if (c < 0x800) {
      out.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
    } else {
      out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
    }
  }
  return Uint8Array.from(out);
}

/**
 * A key string for messages and logs: each byte that is not UTF-8 as `\xNN`, each control character as
 * `\xNN` or `\u{NNNN}`, a backslash doubled, so a key can neither hide bytes nor break a log line. It is
 * for reading only: compare and store key strings themselves.
 *
 * @example
 * printableKey("svc/k-\udcff"); // "svc/k-\\xff"
 */
export function printableKey(key: string): string {
  let out = "";
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = key.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        out += key[i]! + key[i + 1]!;
        i++;
        continue;
      }
      out += `\\u{${hex(c, 4)}}`;
    } else if (c >= 0xdc80 && c <= 0xdcff) {
      out += `\\x${hex(c - ESCAPE_BASE, 2)}`;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      out += `\\u{${hex(c, 4)}}`;
    } else if (c < 0x20 || c === 0x7f) {
      out += `\\x${hex(c, 2)}`;
    } else if (c >= 0x80 && c <= 0x9f) {
      out += `\\u{${hex(c, 4)}}`;
    } else if (c === 0x5c) {
      out += "\\\\";
    } else {
      out += key[i]!;
    }
  }
  return out;
}

function hex(value: number, width: number): string {
  return value.toString(16).padStart(width, "0");
}

function hasSurrogate(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) return true;
  }
  return false;
}
