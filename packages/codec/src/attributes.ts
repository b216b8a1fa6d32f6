import { NamingError } from "./naming-error.js";
import { toWellFormed } from "./utf8.js";

// The attribute string: `key=value;key=value`, carried as a JSON *string* in an endpoint's Metadata so
// that every Go resolver can hold it (etcd's Go resolver before 3.5.27 / 3.6.8 panics on object
// metadata). The grammar, in RFC 5234 ABNF:
//
//   attributes  = "" / attribute *( ";" attribute )
//   attribute   = key "=" value
//   key         = 1*64( ALPHA / DIGIT / "_" / "-" / "." )
//   value       = *( safe / pct-encoded )
//   safe        = %x21-24 / %x26-3A / %x3C / %x3E-7E   ; printable ASCII but "%", ";" and "="
//   pct-encoded = "%" HEXDIG HEXDIG                     ; a UTF-8 byte; either case read, upper written
//
// No whitespace anywhere, keys unique (case-sensitive), any order; the percent-decoded bytes of a value
// must be UTF-8. At most MAX_ATTRIBUTES attributes and MAX_ATTRIBUTES_LENGTH characters.

/** Attributes by key: a frozen object with a null prototype, so no key (`__proto__` included) is special. */
export type Attributes = Readonly<Record<string, string>>;

/** Most attributes one string may carry. */
export const MAX_ATTRIBUTES = 64;

/** Longest attribute key, in characters. */
export const MAX_ATTRIBUTE_KEY_LENGTH = 64;

/** Longest attribute string, in characters (the form is ASCII, so also in bytes). */
export const MAX_ATTRIBUTES_LENGTH = 8192;

/** No attributes (frozen, null prototype). */
export const EMPTY_ATTRIBUTES: Attributes = Object.freeze(Object.create(null) as Record<string, string>);

/** The outcome of {@link metadataAttributes}: on failure, `attributes` is empty and `error` says why. */
export type AttributesResult =
  | { ok: true; attributes: Attributes }
  | { ok: false; attributes: Attributes; error: NamingError };

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

function isKeyChar(c: number): boolean {
  return (
    (c >= 0x30 && c <= 0x39) || // 0-9
    (c >= 0x41 && c <= 0x5a) || // A-Z
    (c >= 0x61 && c <= 0x7a) || // a-z
    c === 0x5f || // _
    c === 0x2d || // -
    c === 0x2e // .
  );
}

/** A character a value may hold as it is: printable ASCII but `%`, `;` and `=`. */
function isSafe(c: number): boolean {
  return c >= 0x21 && c <= 0x7e && c !== 0x25 && c !== 0x3b && c !== 0x3d;
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

function shown(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}

function describeChar(text: string, i: number): string {
  const code = text.codePointAt(i) ?? 0;
  const name = `U+${code.toString(16).toUpperCase().padStart(4, "0")}`;
  return code >= 0x21 && code <= 0x7e ? `"${String.fromCharCode(code)}" (${name})` : name;
}

function invalid(message: string): NamingError {
  return new NamingError("INVALID_ATTRIBUTES", message);
}

/** Checks one key; `where` prefixes the message. */
function checkKey(key: unknown, where: string): asserts key is string {
  if (typeof key !== "string") throw invalid(`${where}: an attribute key must be a string`);
  if (key === "") throw invalid(`${where}: an attribute key is empty`);
  if (key.length > MAX_ATTRIBUTE_KEY_LENGTH) {
    throw invalid(`${where}: key ${shown(key)} is longer than ${MAX_ATTRIBUTE_KEY_LENGTH} characters`);
  }
  for (let i = 0; i < key.length; i++) {
    if (!isKeyChar(key.charCodeAt(i))) {
      throw invalid(
        `${where}: key ${shown(key)} has ${describeChar(key, i)} at index ${i}; keys are made of A-Z, a-z, 0-9, "_", "-" and "."`,
      );
    }
  }
}

function percentDecode(raw: string, key: string, where: string): string {
  if (!raw.includes("%")) return raw;
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c !== 0x25) {
      bytes.push(c);
      continue;
    }
    const h1 = raw.charCodeAt(i + 1);
    const h2 = raw.charCodeAt(i + 2);
    if (!isHex(h1) || !isHex(h2)) {
      throw invalid(`${where}: the value of "${key}" has a "%" not followed by two hex digits`);
    }
    bytes.push(Number.parseInt(raw.slice(i + 1, i + 3), 16));
    i += 2;
  }
  try {
    return strictUtf8.decode(new Uint8Array(bytes));
  } catch {
    throw invalid(`${where}: the value of "${key}" percent-decodes to bytes that are not UTF-8`);
  }
}

/**
 * Reads an attribute string such as `zone=a;weight=3` (the grammar is in this package's README). The
 * empty string has no attributes. Throws NamingError INVALID_ATTRIBUTES naming what is wrong and where:
 * an empty attribute (`a=1;;b=2`, a trailing `;`), a missing `=`, a bad key, a repeated key, a character
 * that must be percent-encoded (whitespace, `=`, non-ASCII), a bad `%` escape, or too many attributes or
 * characters. The result is frozen and has a null prototype: `__proto__` is an ordinary key.
 *
 * @example
 * parseAttributes("zone=eu-1;note=a%3Bb"); // { zone: "eu-1", note: "a;b" }
 */
export function parseAttributes(text: string): Attributes {
  if (typeof text !== "string") {
    throw invalid(`attributes must be a string, got ${text === null ? "null" : typeof text}`);
  }
  if (text.length > MAX_ATTRIBUTES_LENGTH) {
    throw invalid(
      `attribute string is ${text.length} characters, over the limit of ${MAX_ATTRIBUTES_LENGTH}`,
    );
  }
  if (text === "") return EMPTY_ATTRIBUTES;
  const where = `attributes ${shown(text)}`;
  const out = Object.create(null) as Record<string, string>;
  let count = 0;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf(";", start);
    if (end < 0) end = text.length;
    if (end === start) throw invalid(`${where}: empty attribute at index ${start} (no "key=value" there)`);
    if (++count > MAX_ATTRIBUTES) throw invalid(`${where}: more than ${MAX_ATTRIBUTES} attributes`);
    const item = text.slice(start, end);
    const eq = item.indexOf("=");
    if (eq < 0) throw invalid(`${where}: attribute ${shown(item)} at index ${start} has no "="`);
    const key = item.slice(0, eq);
    checkKey(key, where);
    if (Object.hasOwn(out, key)) throw invalid(`${where}: key "${key}" is given twice`);
    const raw = item.slice(eq + 1);
    for (let i = 0; i < raw.length; i++) {
      const c = raw.charCodeAt(i);
      if (isSafe(c) || c === 0x25) continue;
      const at = start + eq + 1 + i;
      const what = describeChar(raw, i);
      const hint =
        c === 0x3d
          ? 'write "=" in a value as %3D'
          : c > 0x7e
            ? "percent-encode non-ASCII text as UTF-8 bytes"
            : "percent-encode it";
      throw invalid(`${where}: the value of "${key}" has ${what} at index ${at}; ${hint}`);
    }
    out[key] = percentDecode(raw, key, where);
    start = end + 1;
    if (end === text.length) break;
  }
  return Object.freeze(out);
}

function encodeValue(value: string, key: string): string {
  let plain = true;
  for (let i = 0; i < value.length; i++) {
    if (!isSafe(value.charCodeAt(i))) {
      plain = false;
      break;
    }
  }
  if (plain) return value;
  if (toWellFormed(value) !== value) {
    throw invalid(`the value of attribute "${key}" contains a lone surrogate, which has no UTF-8 form`);
  }
  let out = "";
  for (const ch of value) {
    const c = ch.charCodeAt(0);
    if (ch.length === 1 && isSafe(c)) {
      out += ch;
      continue;
    }
    for (const byte of encoder.encode(ch)) out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/**
 * Writes attributes as the attribute string `parseAttributes` reads: keys in sorted order, each value
 * percent-encoded where the grammar asks (`%`, `;`, `=`, whitespace, control characters and non-ASCII,
 * as UTF-8 bytes in upper-case hex). Takes a plain object (own enumerable keys) or a Map. Throws
 * NamingError INVALID_ATTRIBUTES for a bad key, a value that is not a string or holds a lone surrogate,
 * or a result over the limits.
 *
 * @example
 * formatAttributes({ zone: "a", weight: "3" }); // "weight=3;zone=a"
 */
export function formatAttributes(
  attributes: Readonly<Record<string, string>> | ReadonlyMap<string, string>,
): string {
  if (typeof attributes !== "object" || attributes === null || Array.isArray(attributes)) {
    throw invalid("attributes must be an object of strings (or a Map)");
  }
  const entries: [string, unknown][] =
    attributes instanceof Map
      ? [...(attributes as ReadonlyMap<string, unknown>).entries()]
      : Object.keys(attributes).map((key) => [key, Object.getOwnPropertyDescriptor(attributes, key)?.value]);
  if (entries.length > MAX_ATTRIBUTES) {
    throw invalid(`${entries.length} attributes are more than the limit of ${MAX_ATTRIBUTES}`);
  }
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const parts: string[] = [];
  for (const [key, value] of entries) {
    checkKey(key, "attributes");
    if (typeof value !== "string") {
      const kind = value === null ? "null" : typeof value;
      throw invalid(
        `attribute "${key}" must be a string, got ${kind}${kind === "number" ? ` (write "${String(value)}")` : ""}`,
      );
    }
    parts.push(`${key}=${encodeValue(value, key)}`);
  }
  const text = parts.join(";");
  if (text.length > MAX_ATTRIBUTES_LENGTH) {
    throw invalid(
      `the attribute string would be ${text.length} characters, over the limit of ${MAX_ATTRIBUTES_LENGTH}`,
    );
  }
  return text;
}

/**
 * The attributes an endpoint's metadata carries, in either form:
 * - a string is read as an attribute string (`"zone=a;weight=3"`); one that does not follow the grammar
 *   gives `{ ok: false, attributes: {}, error }` (the caller keeps the endpoint and warns);
 * - a JSON object gives its own properties whose values are strings, numbers or booleans, as text
 *   (`{"zone":"a","weight":3}` → `{ zone: "a", weight: "3" }`), whatever their keys; other values are left out;
 * - anything else (`null`, numbers, booleans, arrays) has no attributes.
 *
 * Never throws. The attributes are frozen with a null prototype; the metadata is only read (own
 * properties, never its prototype).
 */
export function metadataAttributes(metadata: unknown): AttributesResult {
  if (typeof metadata === "string") {
    try {
      return { ok: true, attributes: parseAttributes(metadata) };
    } catch (error) {
      const reason =
        error instanceof NamingError ? error : invalid(`attributes could not be read: ${String(error)}`);
      return { ok: false, attributes: EMPTY_ATTRIBUTES, error: reason };
    }
  }
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) {
    return { ok: true, attributes: EMPTY_ATTRIBUTES };
  }
  const out = Object.create(null) as Record<string, string>;
  let any = false;
  for (const key of Object.keys(metadata)) {
    const value: unknown = Object.getOwnPropertyDescriptor(metadata, key)?.value;
    if (typeof value === "string") out[key] = value;
    else if ((typeof value === "number" && Number.isFinite(value)) || typeof value === "boolean") {
      out[key] = String(value);
    } else continue;
    any = true;
  }
  return { ok: true, attributes: any ? Object.freeze(out) : EMPTY_ATTRIBUTES };
}

/** True when `key` is a valid attribute key: 1 to 64 of A-Z, a-z, 0-9, `_`, `-`, `.`. */
export function isAttributeKey(key: string): boolean {
  if (typeof key !== "string" || key.length === 0 || key.length > MAX_ATTRIBUTE_KEY_LENGTH) return false;
  for (let i = 0; i < key.length; i++) if (!isKeyChar(key.charCodeAt(i))) return false;
  return true;
}
