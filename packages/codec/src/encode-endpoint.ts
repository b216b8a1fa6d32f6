import type { Endpoint } from "./endpoint.js";
import { goJsonString, goJsonValue } from "./go-json-encode.js";
import { validateAddress } from "./keys.js";
import { checkLimit, DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH } from "./limits.js";
import { NamingError } from "./naming-error.js";
import { utf8Length } from "./utf8.js";

/** Options of {@link encodeEndpoint}. */
export interface EncodeOptions {
  /** Largest encoded value in UTF-8 bytes (default 65536, what `decodeEndpoint` reads by default). */
  maxBytes?: number;
  /** Deepest metadata nesting (default 32, what `decodeEndpoint` reads by default). */
  maxDepth?: number;
}

/**
 * The etcd value for an endpoint, byte for byte what Go's `endpoints.Manager.AddEndpoint` stores:
 * `{"Op":0,"Addr":"…","Metadata":…}` with `null` for no metadata and object keys sorted.
 *
 * Throws NamingError: INVALID_ADDRESS (see {@link validateAddress}), INVALID_METADATA (see
 * `validateMetadata`), VALUE_TOO_LARGE.
 *
 * @example
 * encodeEndpoint({ addr: "10.0.0.7:8080", metadata: "zone=a" });
 * // '{"Op":0,"Addr":"10.0.0.7:8080","Metadata":"zone=a"}'
 */
export function encodeEndpoint(endpoint: Endpoint, options: EncodeOptions = {}): string {
  const maxBytes = checkLimit("maxBytes", options.maxBytes, DEFAULT_MAX_BYTES);
  const maxDepth = checkLimit("maxDepth", options.maxDepth, DEFAULT_MAX_DEPTH);
  if (typeof endpoint !== "object" || endpoint === null) {
    throw new NamingError(
      "INVALID_ADDRESS",
      `endpoint must be an object with an addr, got ${String(endpoint)}`,
    );
  }
  validateAddress(endpoint.addr);
  const metadata = endpoint.metadata === undefined ? "null" : goJsonValue(endpoint.metadata, maxDepth);
  const value = `{"Op":0,"Addr":${goJsonString(endpoint.addr)},"Metadata":${metadata}}`;
  const size = utf8Length(value);
  if (size > maxBytes) {
    throw new NamingError(
      "VALUE_TOO_LARGE",
      `endpoint ${JSON.stringify(endpoint.addr)} encodes to ${size} bytes, over the limit of ${maxBytes}`,
    );
  }
  return value;
}
