/** What replaces the user info of a URL or `user:password@host` in text this project shows. */
const MASK = "***";
const SCHEME = /[A-Za-z][A-Za-z0-9+.-]*:\/\//;
/** Punctuation that may open a quoted or bracketed URL; never part of the user name. */
const OPENERS = /^["'`(<[{]*/;

function redactWord(word: string): string {
  // Everything before the LAST "@" is user info: a password may hold "@", "/" or ":" itself.
  const at = word.lastIndexOf("@");
  if (at <= 0) return word;
  const scheme = SCHEME.exec(word);
  if (scheme !== null && scheme.index + scheme[0].length <= at) {
    const start = scheme.index + scheme[0].length;
    return start === at ? word : `${word.slice(0, start)}${MASK}${word.slice(at)}`;
  }
  // Without "scheme://", only "user:password@" counts: a bare "name@host" carries no password.
  const start = OPENERS.exec(word)?.[0].length ?? 0;
  if (!word.slice(start, at).includes(":")) return word;
  return `${word.slice(0, start)}${MASK}${word.slice(at)}`;
}

/**
 * Text with every URL user info (`scheme://user:password@host`, `scheme://token@host`) and every
 * `user:password@host` replaced by `***@host`. Everything before the last `@` of a word is masked, so a
 * password holding `@`, `/` or `:` is masked whole; grpc's `dns:user:password@host` loses its scheme
 * too. Every message the packages build from a cause passes through this, since etcd3 and grpc-js quote
 * their target (an etcd3 host given as `http://user:password@host:port`) in their errors.
 *
 * @example
 * redactSecrets("target dns:root:p@ss@127.0.0.1:2379") // "target ***@127.0.0.1:2379"
 */
export function redactSecrets(text: string): string {
  return text.includes("@") ? text.split("\n").map(redactLine).join("\n") : text;
}

/** Where a word starts user info: after its `scheme://`, or at its start when it holds `user:` (not `why:`). */
function userInfoStart(word: string): number | undefined {
  const scheme = SCHEME.exec(word);
  if (scheme !== null) return scheme.index + scheme[0].length;
  const colon = word.indexOf(":");
  return colon >= 0 && colon < word.length - 1 ? (OPENERS.exec(word)?.[0].length ?? 0) : undefined;
}

function redactLine(line: string): string {
  // Even indices are words, odd ones the blanks between them.
  const parts = line.split(/(\s+)/);
  for (let i = 0; i < parts.length; i += 2) {
    const word = parts[i]!;
    const at = word.lastIndexOf("@");
    if (at < 0) continue;
    const own = redactWord(word);
    if (own !== word || SCHEME.test(word.slice(0, at)) || word.slice(0, at).includes(":")) {
      parts[i] = own;
      continue;
    }
    // "dns:user:pass word@host": a password with blanks starts in an earlier word of the line. Look back
    // to the word that opens the user info; a word ending in ":" ("failed:") or holding "@" ends the search.
    for (let j = i - 2; j >= 0; j -= 2) {
      const before = parts[j]!;
      if (before.includes("@")) break;
      const start = userInfoStart(before);
      if (start === undefined) {
        if (before.endsWith(":")) break;
        continue;
      }
      parts.splice(j, i - j + 1, `${before.slice(0, start)}${MASK}${word.slice(at)}`);
      i = j;
      break;
    }
  }
  return parts.join("");
}

/**
 * Redacts, in place, the message, stack and string fields of an error and of its causes (see
 * {@link redactSecrets}), and returns it. In place, so that `instanceof` on a cause still works; values
 * that are not errors, and properties that cannot be written, are left as they are.
 */
export function redactError<T>(error: T): T {
  scrub(error, 0, new Set());
  return error;
}

function scrub(value: unknown, depth: number, seen: Set<unknown>): void {
  if (depth > 6 || typeof value !== "object" || value === null || seen.has(value)) return;
  seen.add(value);
  if (!(value instanceof Error)) return;
  const fields = value as unknown as Record<string, unknown>;
  for (const key of ["message", "stack", ...Object.keys(value)]) {
    let field: unknown;
    try {
      field = fields[key];
    } catch {
      continue;
    }
    if (typeof field === "string") {
      const safe = redactSecrets(field);
      if (safe !== field) {
        try {
          fields[key] = safe;
        } catch {
          // A frozen error keeps its text: nothing else can be done with it here.
        }
      }
    } else if (Array.isArray(field)) {
      for (const item of field) scrub(item, depth + 1, seen);
    } else {
      scrub(field, depth + 1, seen);
    }
  }
  scrub(value.cause, depth + 1, seen);
}

/**
 * Appended to a message whose cause quoted user info: etcd3 dials its hosts through grpc-js, which
 * resolves everything before the port (user info included) as a DNS name, so such a host never works.
 */
export const USERINFO_IN_HOST_HINT =
  "an etcd3 host must not carry user:password@; pass credentials in etcd3's auth option";

/**
 * A logger's fields with their strings redacted ({@link redactSecrets}) and their errors redacted in
 * place ({@link redactError}); a new object, the caller's is not changed.
 */
export function redactFields(fields: Record<string, unknown>): Record<string, unknown> {
  const safe: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    safe[key] = typeof value === "string" ? redactSecrets(value) : redactError(value);
  }
  return safe;
}
