/** Why a naming value, key or target was refused; callers branch on this, never on message text. */
export type NamingErrorCode =
  /** The value is not JSON (syntax error, empty, trailing garbage, nested beyond Go's limit). */
  | "INVALID_JSON"
  /** The value is JSON but not an endpoint: not an object, `Addr` not a string, `Op` not 0..255. */
  | "INVALID_VALUE"
  /** The value decodes but carries no address (`null`, `{}`, `{"Addr":""}`). */
  | "EMPTY_ADDRESS"
  /** The value is larger than the configured `maxBytes` (UTF-8 bytes). */
  | "VALUE_TOO_LARGE"
  /** Metadata is not JSON-serialisable, is nested too deeply, or holds a number Go cannot represent. */
  | "INVALID_METADATA"
  /** An address is empty or contains whitespace or control characters. */
  | "INVALID_ADDRESS"
  /** A service name is empty, has empty, `.` or `..` segments, or contains whitespace or control characters. */
  | "INVALID_SERVICE"
  /** An endpoint id (the last key segment) is unusable. */
  | "INVALID_KEY"
  /** A target URI is not of the form `etcd:///<service>[?k=v&...]`. */
  | "INVALID_TARGET"
  /** An attribute string (`zone=a;weight=3`) or an attribute map does not follow the attribute grammar. */
  | "INVALID_ATTRIBUTES";

/**
 * The one error type of `@etcd-naming/codec`. Decoding returns it (`{ ok: false, error }`); keys,
 * targets and encoding throw it.
 */
export class NamingError extends Error {
  override readonly name: "NamingError" = "NamingError";
  readonly code: NamingErrorCode;

  constructor(code: NamingErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}
