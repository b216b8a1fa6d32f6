// The lexical half of reading JSON the way Go's encoding/json does: whitespace, object keys, literals,
// numbers and string escapes (lone surrogates become U+FFFD), each failure worded like Go's scanner
// ("invalid character 'x' after top-level value"). go-json-decode.ts builds the endpoint on top of it.

export const QUOTE = 0x22;
export const MINUS = 0x2d;

const BACKSLASH = 0x5c;
const SLASH = 0x2f;
const COLON = 0x3a;
const DOT = 0x2e;

/** A syntax error: Go's checkValid runs before decoding, so it wins over any type error. */
export class JsonSyntaxError extends Error {}

/** A cursor over `src` that reads one JSON token at a time and throws JsonSyntaxError on bad input. */
export class GoJsonScanner {
  protected pos = 0;

  constructor(protected readonly src: string) {}

  /** Reads `"key"` and the `:` after it. */
  protected objectKey(): string {
    if (this.peek() !== QUOTE) this.fail("looking for beginning of object key string");
    const key = this.string();
    this.ws();
    if (this.peek() !== COLON) this.fail("after object key");
    this.pos++;
    this.ws();
    return key;
  }

  protected literal(word: "true" | "false" | "null"): boolean | null {
    for (let i = 0; i < word.length; i++) {
      if (this.src.charCodeAt(this.pos) !== word.charCodeAt(i)) {
        this.fail(i === 0 ? "looking for beginning of value" : `in literal ${word} (expecting '${word[i]}')`);
      }
      this.pos++;
    }
    return word === "null" ? null : word === "true";
  }

  protected number(): string {
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

  protected string(): string {
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

  protected ws(): void {
    const src = this.src;
    for (;;) {
      const c = src.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return;
      this.pos++;
    }
  }

  /** The code unit at the cursor, or -1 at the end. */
  protected peek(): number {
    return this.pos < this.src.length ? this.src.charCodeAt(this.pos) : -1;
  }

  /** Throws Go's message for the character at the cursor, e.g. "invalid character 'x' after top-level value". */
  protected fail(context: string): never {
    if (this.pos >= this.src.length) throw new JsonSyntaxError("unexpected end of JSON input");
    const cp = this.src.codePointAt(this.pos)!;
    throw new JsonSyntaxError(`invalid character ${quoteChar(cp)} ${context} at offset ${this.pos}`);
  }
}

export function isDigit(c: number): boolean {
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
