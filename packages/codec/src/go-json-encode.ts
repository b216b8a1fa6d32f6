// Writes JSON exactly as Go's encoding/json Marshal does (Go 1.19, the version etcd 3.4/3.5 releases
// were built with), so a value written from Node is byte-identical to one written by Go's
// endpoints.Manager.
import { NamingError } from "./naming-error.js";
import { compareCodePoints, toWellFormed } from "./utf8.js";

const HEX = "0123456789abcdef";

/**
 * A JSON string literal as Go writes it with HTML escaping on: `<`, `>`, `&`, U+2028 and U+2029 as
 * `\u003c`-style escapes; `\n`, `\r`, `\t` short; every other control character (including `\b` and
 * `\f`, which Go spells out before 1.22) as `\u00XX`; a lone surrogate as `\ufffd` (Go's treatment
 * of bytes that are not UTF-8).
 */
export function goJsonString(s: string): string {
  let out = '"';
  let start = 0;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    let replacement: string | undefined;
    if (c < 0x80) {
      if (c >= 0x20 && c !== 0x22 && c !== 0x5c && c !== 0x3c && c !== 0x3e && c !== 0x26) continue;
      if (c === 0x22) replacement = '\\"';
      else if (c === 0x5c) replacement = "\\\\";
      else if (c === 0x0a) replacement = "\\n";
      else if (c === 0x0d) replacement = "\\r";
      else if (c === 0x09) replacement = "\\t";
      else replacement = "\\u00" + HEX[c >> 4] + HEX[c & 0xf];
    } else if (c === 0x2028 || c === 0x2029) {
      replacement = c === 0x2028 ? "\\u2028" : "\\u2029";
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const next = s.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
      replacement = "\\ufffd";
    } else {
      continue;
    }
    out += s.slice(start, i) + replacement;
    start = i + 1;
  }
  return out + s.slice(start) + '"';
}

/**
 * A float64 as Go writes it: shortest round-trip digits, exponent form below 1e-6 and from 1e21 on
 * (`1e+21`, `1e-7`), and `-0` for negative zero (where JSON.stringify writes `0`). Outside that one
 * case this coincides with ECMAScript's Number-to-string conversion.
 */
export function goJsonNumber(n: number): string {
  if (Object.is(n, -0)) return "-0";
  return String(n);
}

/** Go's decoder refuses nesting beyond 10000 levels, the envelope object being one of them. */
const GO_MAX_METADATA_DEPTH = 9999;

/**
 * Encodes a metadata value as Go would encode the equivalent `interface{}` (objects as maps with
 * keys sorted by UTF-8 bytes). Throws NamingError INVALID_METADATA for anything that is not a JSON
 * value: undefined (anywhere below the top), functions, symbols, bigints, non-finite numbers,
 * non-plain objects, cycles, nesting deeper than `maxDepth` containers (at most 9999, Go's limit).
 */
export function goJsonValue(value: unknown, maxDepth: number): string {
  const encoder = new MetadataEncoder(Math.min(maxDepth, GO_MAX_METADATA_DEPTH));
  try {
    return encoder.encode(value);
  } catch (error) {
    if (error instanceof NamingError) throw error;
    // A stack overflow on absurd nesting, or a throwing getter: either way not encodable data.
    const reason = error instanceof Error ? error.message : String(error);
    throw new NamingError("INVALID_METADATA", `${encoder.path()} could not be encoded: ${reason}`, {
      cause: error,
    });
  }
}

class MetadataEncoder {
  /** The containers being encoded, outermost first (cycle detection) and the path to the current value. */
  private readonly ancestors: object[] = [];
  private readonly steps: (string | number)[] = [];

  constructor(private readonly maxDepth: number) {}

  path(): string {
    return (
      "metadata" +
      this.steps.map((s) => (typeof s === "number" ? `[${s}]` : `[${JSON.stringify(s)}]`)).join("")
    );
  }

  encode(value: unknown): string {
    switch (typeof value) {
      case "string":
        return goJsonString(value);
      case "boolean":
        return value ? "true" : "false";
      case "number":
        if (!Number.isFinite(value)) throw this.invalid(`is ${value}, which JSON cannot represent`);
        return goJsonNumber(value);
      case "object":
        break;
      default:
        throw this.invalid(
          `is ${typeof value === "undefined" ? "undefined; omit the key or use null" : `a ${typeof value}, which JSON cannot represent`}`,
        );
    }
    if (value === null) return "null";
    if (this.ancestors.includes(value)) throw this.invalid("refers back to itself (a cycle)");
    if (this.ancestors.length >= this.maxDepth) {
      throw this.invalid(`is nested deeper than the limit of ${this.maxDepth} levels`);
    }
    this.ancestors.push(value);
    const out = Array.isArray(value) ? this.array(value) : this.object(value);
    this.ancestors.pop();
    return out;
  }

  private array(value: unknown[]): string {
    const parts: string[] = [];
    for (let i = 0; i < value.length; i++) {
      this.steps.push(i);
      if (!(i in value)) throw this.invalid("is a hole in a sparse array");
      parts.push(this.encode(value[i]));
      this.steps.pop();
    }
    return "[" + parts.join(",") + "]";
  }

  private object(value: object): string {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
      throw this.invalid(
        `is a ${typeof name === "string" && name ? name : "non-plain object"}; use a plain object`,
      );
    }
    const entries: [string, string][] = [];
    const seen = new Set<string>();
    for (const key of Object.keys(value)) {
      this.steps.push(key);
      const wire = toWellFormed(key);
      if (seen.has(wire))
        throw this.invalid("has a key that equals another once lone surrogates become U+FFFD");
      seen.add(wire);
      entries.push([wire, this.encode((value as Record<string, unknown>)[key])]);
      this.steps.pop();
    }
    entries.sort((a, b) => compareCodePoints(a[0], b[0]));
    return "{" + entries.map(([k, v]) => goJsonString(k) + ":" + v).join(",") + "}";
  }

  private invalid(what: string): NamingError {
    return new NamingError("INVALID_METADATA", `${this.path()} ${what}`);
  }
}
