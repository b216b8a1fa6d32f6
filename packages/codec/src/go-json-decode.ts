// Reads a stored endpoint value the way Go's encoding/json Unmarshal reads it into etcd's
//   struct { Op uint8; Addr string; Metadata interface{} }
// JSON.parse is not enough: Go rejects a whole value when any field has the wrong type (even if a
// later duplicate key fixes it), lets `null` leave a string field untouched, turns escaped lone
// surrogates into U+FFFD, refuses numbers beyond float64, matches field names case-insensitively and
// limits nesting to 10000. The parser is iterative so hostile nesting cannot exhaust the stack.

import { GoJsonScanner, isDigit, JsonSyntaxError, MINUS, QUOTE } from "./go-json-scanner.js";
import { NamingError } from "./naming-error.js";

const GO_MAX_NESTING = 10000;

const COMMA = 0x2c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;

/** What Go's Unmarshal leaves in the struct, before the empty-address check. */
export interface GoEnvelope {
  /** The stored `Op` (0..255), 0 when absent. */
  op: number;
  addr: string;
  metadata: unknown;
}

/**
 * Parses `text` (well-formed UTF-16, i.e. decoded UTF-8) as Go would unmarshal it into an endpoint
 * update. Returns the first error Go would report, or the decoded fields.
 */
export function parseGoEnvelope(
  text: string,
  maxDepth: number,
): { ok: true; envelope: GoEnvelope } | { ok: false; error: NamingError } {
  const parser = new Parser(text, maxDepth);
  try {
    const envelope = parser.document();
    if (parser.firstError) return { ok: false, error: parser.firstError };
    return { ok: true, envelope };
  } catch (error) {
    if (error instanceof JsonSyntaxError) {
      return {
        ok: false,
        error: new NamingError("INVALID_JSON", `value is not valid JSON: ${error.message}`),
      };
    }
    return {
      ok: false,
      error: new NamingError("INVALID_JSON", "value could not be parsed", { cause: error }),
    };
  }
}

type Field = "Op" | "Addr" | "Metadata";

// Go 1.19 matches a key to a field exactly, or else with an ASCII case fold (none of these names
// contain the letters K or S that get Unicode folding), so any ASCII casing selects the field.
function matchField(key: string): Field | undefined {
  if (key.length === 2 && foldEquals(key, "OP")) return "Op";
  if (key.length === 4 && foldEquals(key, "ADDR")) return "Addr";
  if (key.length === 8 && foldEquals(key, "METADATA")) return "Metadata";
  return undefined;
}

function foldEquals(key: string, upper: string): boolean {
  for (let i = 0; i < upper.length; i++) {
    const c = key.charCodeAt(i);
    if (c >= 0x80 || (c & 0xdf) !== upper.charCodeAt(i)) return false;
  }
  return true;
}

interface Frame {
  isObject: boolean;
  object: Record<string, unknown> | undefined;
  array: unknown[] | undefined;
  key: string;
}

class Parser extends GoJsonScanner {
  /** The first type error, kept while parsing continues, like Go's decodeState.saveError. */
  firstError: NamingError | undefined;

  constructor(
    src: string,
    private readonly maxDepth: number,
  ) {
    super(src);
  }

  document(): GoEnvelope {
    const envelope: GoEnvelope = { op: 0, addr: "", metadata: null };
    this.ws();
    const c = this.peek();
    if (c === LBRACE) {
      this.envelope(envelope);
    } else if (c === 0x6e) {
      // `null` into a struct pointer is a no-op for Go: the address stays empty.
      this.literal("null");
    } else {
      const kind = kindOf(c);
      this.value(0, false);
      this.save(
        "INVALID_VALUE",
        `value is a JSON ${kind}, not an object: Go cannot unmarshal it into an endpoint`,
      );
    }
    this.ws();
    if (this.pos < this.src.length) this.fail("after top-level value");
    return envelope;
  }

  private envelope(out: GoEnvelope): void {
    this.pos++;
    this.ws();
    if (this.peek() === RBRACE) {
      this.pos++;
      return;
    }
    for (;;) {
      const key = this.objectKey();
      this.ws();
      const field = matchField(key);
      if (field === "Op") this.opField(out);
      else if (field === "Addr") this.addrField(out);
      else if (field === "Metadata") out.metadata = this.value(1, true);
      else this.value(1, false);
      this.ws();
      const c = this.peek();
      if (c === COMMA) {
        this.pos++;
        this.ws();
        continue;
      }
      if (c === RBRACE) {
        this.pos++;
        return;
      }
      this.fail("after object key:value pair");
    }
  }

  private opField(out: GoEnvelope): void {
    const c = this.peek();
    if (c === 0x6e) {
      this.literal("null");
      return;
    }
    if (c === MINUS || isDigit(c)) {
      const text = this.number();
      // Go parses with ParseUint(text, 10, 64) and checks it fits a uint8: no sign, fraction or exponent.
      if (/^[0-9]{1,3}$/.test(text) && Number(text) <= 255) out.op = Number(text);
      else this.save("INVALID_VALUE", `Op must be an integer in 0..255 (Go's uint8), got number ${text}`);
      return;
    }
    const kind = kindOf(c);
    this.value(1, false);
    this.save("INVALID_VALUE", `Op must be an integer in 0..255 (Go's uint8), got a JSON ${kind}`);
  }

  private addrField(out: GoEnvelope): void {
    const c = this.peek();
    if (c === QUOTE) {
      out.addr = this.string();
      return;
    }
    if (c === 0x6e) {
      // Go ignores null for a string field: an earlier Addr survives.
      this.literal("null");
      return;
    }
    const kind = kindOf(c);
    this.value(1, false);
    this.save("INVALID_VALUE", `Addr must be a string, got a JSON ${kind}`);
  }

  /**
   * Parses one value nested inside `outer` containers. With `build`, returns it as plain JS data
   * (objects get own data properties only, so `__proto__` stays an ordinary key) and enforces the
   * metadata limits; without, only checks the syntax, as Go does for fields it ignores.
   */
  private value(outer: number, build: boolean): unknown {
    const stack: Frame[] = [];
    for (;;) {
      this.ws();
      const c = this.peek();
      let result: unknown;
      if (c === LBRACE || c === LBRACKET) {
        const depth = stack.length + 1;
        if (outer + depth > GO_MAX_NESTING)
          throw new JsonSyntaxError(`exceeded max depth at offset ${this.pos}`);
        if (build && depth > this.maxDepth) {
          this.save(
            "INVALID_METADATA",
            `metadata is nested deeper than the limit of ${this.maxDepth} levels`,
          );
        }
        const keep = build && this.firstError === undefined;
        this.pos++;
        this.ws();
        if (c === LBRACE) {
          const object: Record<string, unknown> | undefined = keep ? {} : undefined;
          if (this.peek() === RBRACE) {
            this.pos++;
            result = object;
          } else {
            stack.push({ isObject: true, object, array: undefined, key: this.objectKey() });
            continue;
          }
        } else {
          const array: unknown[] | undefined = keep ? [] : undefined;
          if (this.peek() === RBRACKET) {
            this.pos++;
            result = array;
          } else {
            stack.push({ isObject: false, object: undefined, array, key: "" });
            continue;
          }
        }
      } else {
        result = this.scalar(build);
      }
      // Attach the finished value to its parents, closing every container that ends here.
      for (;;) {
        const top = stack[stack.length - 1];
        if (top === undefined) return result;
        this.ws();
        const d = this.peek();
        if (top.isObject) {
          if (top.object !== undefined) {
            Object.defineProperty(top.object, top.key, {
              value: result,
              writable: true,
              enumerable: true,
              configurable: true,
            });
          }
          if (d === COMMA) {
            this.pos++;
            this.ws();
            top.key = this.objectKey();
            break;
          }
          if (d !== RBRACE) this.fail("after object key:value pair");
          result = top.object;
        } else {
          top.array?.push(result);
          if (d === COMMA) {
            this.pos++;
            break;
          }
          if (d !== RBRACKET) this.fail("after array element");
          result = top.array;
        }
        this.pos++;
        stack.pop();
      }
    }
  }

  private scalar(build: boolean): unknown {
    const c = this.peek();
    if (c === QUOTE) return this.string();
    if (c === 0x74) return this.literal("true");
    if (c === 0x66) return this.literal("false");
    if (c === 0x6e) return this.literal("null");
    if (c === MINUS || isDigit(c)) {
      const text = this.number();
      if (!build) return undefined;
      const n = Number(text);
      // Go's ParseFloat fails on overflow (the whole Unmarshal fails); underflow quietly gives 0.
      if (!Number.isFinite(n))
        this.save("INVALID_METADATA", `metadata number ${text} is out of range for a float64`);
      return n;
    }
    return this.fail("looking for beginning of value");
  }

  private save(code: "INVALID_VALUE" | "INVALID_METADATA", message: string): void {
    this.firstError ??= new NamingError(code, message);
  }
}

function kindOf(c: number): string {
  if (c === LBRACE) return "object";
  if (c === LBRACKET) return "array";
  if (c === QUOTE) return "string";
  if (c === 0x74 || c === 0x66) return "boolean";
  if (c === 0x6e) return "null";
  return "number";
}
