// Reads a stored endpoint value the way Go's encoding/json Unmarshal reads it into etcd's
//   struct { Op uint8; Addr string; Metadata interface{} }
// JSON.parse is not enough: Go rejects a whole value when any field has the wrong type (even if a
// later duplicate key fixes it), lets `null` leave a string field untouched, turns escaped lone
// surrogates into U+FFFD, refuses numbers beyond float64, matches field names case-insensitively and
// limits nesting to 10000. The parser is iterative so hostile nesting cannot exhaust the stack.
import { NamingError } from "./naming-error.js";

const GO_MAX_NESTING = 10000;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const SLASH = 0x2f;
const COMMA = 0x2c;
const COLON = 0x3a;
const MINUS = 0x2d;
const DOT = 0x2e;
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

/** A syntax error: Go's checkValid runs before decoding, so it wins over any type error. */
class JsonSyntaxError extends Error {}

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

class Parser {
  private pos = 0;
  /** The first type error, kept while parsing continues, like Go's decodeState.saveError. */
  firstError: NamingError | undefined;

  constructor(
    private readonly src: string,
    private readonly maxDepth: number,
  ) {}

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

  /** Reads `"key"` and the `:` after it. */
  private objectKey(): string {
    if (this.peek() !== QUOTE) this.fail("looking for beginning of object key string");
    const key = this.string();
    this.ws();
    if (this.peek() !== COLON) this.fail("after object key");
    this.pos++;
    this.ws();
    return key;
  }

  private literal(word: "true" | "false" | "null"): boolean | null {
    for (let i = 0; i < word.length; i++) {
      if (this.src.charCodeAt(this.pos) !== word.charCodeAt(i)) {
        this.fail(i === 0 ? "looking for beginning of value" : `in literal ${word} (expecting '${word[i]}')`);
      }
      this.pos++;
    }
    return word === "null" ? null : word === "true";
  }

  private number(): string {
    const start = this.pos;
    if (this.peek() === MINUS) this.pos++;
    if (this.peek() === 0x30) this.pos++;
    else if (isDigit(this.peek())) this.digits();
    else this.fail("in numeric literal");
    if (this.peek() === DOT) {
      this.pos++;
      if (!isDigit(this.peek())) this.fail("after decimal point in numeric literal");
      this.digits();
    }
    const e = this.peek();
    if (e === 0x65 || e === 0x45) {
      this.pos++;
      const sign = this.peek();
      if (sign === 0x2b || sign === MINUS) this.pos++;
      if (!isDigit(this.peek())) this.fail("in exponent of numeric literal");
      this.digits();
    }
    return this.src.slice(start, this.pos);
  }

  private digits(): void {
    while (isDigit(this.peek())) this.pos++;
  }

  private string(): string {
    const src = this.src;
    this.pos++;
    let out = "";
    let start = this.pos;
    for (;;) {
      const c = src.charCodeAt(this.pos);
      if (Number.isNaN(c)) this.fail("in string literal");
      if (c === QUOTE) {
        out += src.slice(start, this.pos);
        this.pos++;
        return out;
      }
      if (c < 0x20) this.fail("in string literal");
      if (c !== BACKSLASH) {
        this.pos++;
        continue;
      }
      out += src.slice(start, this.pos);
      this.pos++;
      const e = src.charCodeAt(this.pos);
      this.pos++;
      switch (e) {
        case QUOTE:
          out += '"';
          break;
        case BACKSLASH:
          out += "\\";
          break;
        case SLASH:
          out += "/";
          break;
        case 0x62:
          out += "\b";
          break;
        case 0x66:
          out += "\f";
          break;
        case 0x6e:
          out += "\n";
          break;
        case 0x72:
          out += "\r";
          break;
        case 0x74:
          out += "\t";
          break;
        case 0x75: {
          const rr = this.hex4();
          if (rr >= 0xd800 && rr <= 0xdfff) {
            // Go pairs a surrogate escape with the next \u escape when they form a valid pair and
            // otherwise writes U+FFFD, leaving the next escape to be read on its own.
            const rr1 = this.peekEscapedUnit();
            if (rr <= 0xdbff && rr1 >= 0xdc00 && rr1 <= 0xdfff) {
              this.pos += 6;
              out += String.fromCharCode(rr, rr1);
            } else {
              out += "\uFFFD";
            }
          } else {
            out += String.fromCharCode(rr);
          }
          break;
        }
        default:
          this.pos--;
          this.fail("in string escape code");
      }
      start = this.pos;
    }
  }

  private hex4(): number {
    let v = 0;
    for (let i = 0; i < 4; i++) {
      const h = hexValue(this.src.charCodeAt(this.pos));
      if (h < 0) this.fail("in \\u hexadecimal character escape");
      v = (v << 4) | h;
      this.pos++;
    }
    return v;
  }

  private peekEscapedUnit(): number {
    const p = this.pos;
    if (this.src.charCodeAt(p) !== BACKSLASH || this.src.charCodeAt(p + 1) !== 0x75) return -1;
    let v = 0;
    for (let i = 2; i < 6; i++) {
      const h = hexValue(this.src.charCodeAt(p + i));
      if (h < 0) return -1;
      v = (v << 4) | h;
    }
    return v;
  }

  private ws(): void {
    const src = this.src;
    for (;;) {
      const c = src.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return;
      this.pos++;
    }
  }

  /** The code unit at the cursor, or -1 at the end. */
  private peek(): number {
    return this.pos < this.src.length ? this.src.charCodeAt(this.pos) : -1;
  }

  private save(code: "INVALID_VALUE" | "INVALID_METADATA", message: string): void {
    this.firstError ??= new NamingError(code, message);
  }

  /** Throws Go's message for the character at the cursor, e.g. "invalid character 'x' after top-level value". */
  private fail(context: string): never {
    if (this.pos >= this.src.length) throw new JsonSyntaxError("unexpected end of JSON input");
    const cp = this.src.codePointAt(this.pos)!;
    throw new JsonSyntaxError(`invalid character ${quoteChar(cp)} ${context} at offset ${this.pos}`);
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

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

function quoteChar(cp: number): string {
  if (cp === 0x27) return "'\\''";
  if (cp === 0x22) return "'\"'";
  return `'${JSON.stringify(String.fromCodePoint(cp)).slice(1, -1)}'`;
}
