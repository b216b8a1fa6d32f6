// UTF-8 and UTF-16 helpers that reproduce Go's treatment of malformed text: Go replaces every byte
// that does not start a valid UTF-8 sequence with U+FFFD (one replacement per byte, unlike the WHATWG
// decoder's "maximal subpart" rule), and a JS string reaches etcd as UTF-8, where a lone surrogate
// can only become U+FFFD.

const REPLACEMENT = "\uFFFD";

const strictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Bytes up to which a value is first checked for ASCII (a spread of its bytes as arguments stays small). */
const ASCII_SCAN_LIMIT = 256;

function isAscii(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i]! >= 0x80) return false;
  return true;
}

/** Node's Buffer has a native Latin-1 slice: for ASCII it gives the text, without a copy of the bytes. */
interface Latin1Slicing {
  latin1Slice?: (start: number, end: number) => string;
}

/** The text of `bytes[start, end)`, which must all be ASCII (below 0x80): its code units are its bytes. */
export function asciiText(bytes: Uint8Array, start: number, end: number): string {
  const slice = (bytes as Latin1Slicing).latin1Slice;
  if (typeof slice === "function") return slice.call(bytes, start, end);
  return String.fromCharCode.apply(null, bytes.subarray(start, end) as unknown as number[]);
}

/** Decodes UTF-8 the way Go's `utf8.DecodeRune` loop does: each invalid byte becomes one U+FFFD. */
export function decodeUtf8(bytes: Uint8Array): string {
  return decodeUtf8With(bytes, () => 0xfffd);
}

/**
 * Decodes UTF-8 step by step as Go's `utf8.DecodeRune` loop does (one step per byte that does not start
 * a valid sequence) and writes each such byte as the UTF-16 unit `invalid(byte)` returns.
 */
export function decodeUtf8With(bytes: Uint8Array, invalid: (byte: number) => number): string {
  // Keys and values are nearly always short ASCII, whose code units are its bytes: a loop here is cheaper
  // than the decoder's call on an isolated change (cold caches), and gives the same string.
  if (bytes.length <= ASCII_SCAN_LIMIT && isAscii(bytes)) return asciiText(bytes, 0, bytes.length);
  try {
    return strictDecoder.decode(bytes);
  } catch {
    return decodeUtf8Slow(bytes, invalid);
  }
}

function decodeUtf8Slow(bytes: Uint8Array, invalid: (byte: number) => number): string {
  const units: number[] = [];
  let out = "";
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b0 = bytes[i]!;
    let cp = -1;
    let size = 1;
    if (b0 < 0x80) {
      cp = b0;
    } else if (b0 >= 0xc2 && b0 <= 0xdf) {
      const b1 = bytes[i + 1];
      if (b1 !== undefined && (b1 & 0xc0) === 0x80) {
        cp = ((b0 & 0x1f) << 6) | (b1 & 0x3f);
        size = 2;
      }
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
      const b1 = bytes[i + 1];
      const b2 = bytes[i + 2];
      // The second byte's range excludes overlong forms (E0) and UTF-16 surrogates (ED).
      const lo = b0 === 0xe0 ? 0xa0 : 0x80;
      const hi = b0 === 0xed ? 0x9f : 0xbf;
      if (b1 !== undefined && b2 !== undefined && b1 >= lo && b1 <= hi && (b2 & 0xc0) === 0x80) {
        cp = ((b0 & 0x0f) << 12) | ((b1 & 0x3f) << 6) | (b2 & 0x3f);
        size = 3;
      }
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      const b1 = bytes[i + 1];
      const b2 = bytes[i + 2];
      const b3 = bytes[i + 3];
      const lo = b0 === 0xf0 ? 0x90 : 0x80;
      const hi = b0 === 0xf4 ? 0x8f : 0xbf;
      if (
        b1 !== undefined &&
        b2 !== undefined &&
        b3 !== undefined &&
        b1 >= lo &&
        b1 <= hi &&
        (b2 & 0xc0) === 0x80 &&
        (b3 & 0xc0) === 0x80
      ) {
        cp = ((b0 & 0x07) << 18) | ((b1 & 0x3f) << 12) | ((b2 & 0x3f) << 6) | (b3 & 0x3f);
        size = 4;
      }
    }
    if (cp < 0) {
      units.push(invalid(b0));
    } else if (cp >= 0x10000) {
      const v = cp - 0x10000;
      units.push(0xd800 | (v >> 10), 0xdc00 | (v & 0x3ff));
    } else {
      units.push(cp);
    }
    i += size;
    if (units.length >= 4096) {
      out += String.fromCharCode(...units);
      units.length = 0;
    }
  }
  return out + String.fromCharCode(...units);
}

/** The number of bytes `s` occupies as UTF-8 (a lone surrogate counts as the 3 bytes of U+FFFD). */
export function utf8Length(s: string): number {
  let bytes = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && isLowSurrogate(s.charCodeAt(i + 1))) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** True when `s` holds a surrogate that is not part of a pair (it has no UTF-8 form). */
export function hasLoneSurrogate(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && isLowSurrogate(s.charCodeAt(i + 1))) i++;
    else if (c >= 0xd800 && c <= 0xdfff) return true;
  }
  return false;
}

/** `s` with every lone surrogate replaced by U+FFFD: the text etcd stores for it. */
export function toWellFormed(s: string): string {
  if (!hasLoneSurrogate(s)) return s;
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && isLowSurrogate(s.charCodeAt(i + 1))) {
      out += s[i]! + s[i + 1]!;
      i++;
    } else if (c >= 0xd800 && c <= 0xdfff) out += REPLACEMENT;
    else out += s[i]!;
  }
  return out;
}

/**
 * Orders well-formed strings by code point, which is the order of their UTF-8 bytes (Go's string
 * order). Plain `<` compares UTF-16 code units and puts U+E000..U+FFFF after astral characters.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

function codePointRank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}
