import { goJsonValue } from "./go-json-encode.js";
import { checkLimit, DEFAULT_MAX_DEPTH } from "./limits.js";

/** Options of {@link validateMetadata}. */
export interface MetadataOptions {
  /** Deepest nesting of objects and arrays accepted (default 32). */
  maxDepth?: number;
}

/**
 * Checks that `metadata` is a JSON value the Go side can read back unchanged: null, a boolean, a
 * finite number, a string, an array or a plain object of those. `undefined` at the top means "no
 * metadata" and passes. Throws NamingError INVALID_METADATA naming the offending path, e.g.
 * `metadata["labels"][1] is a bigint`.
 */
export function validateMetadata(metadata: unknown, options: MetadataOptions = {}): void {
  if (metadata === undefined) return;
  goJsonValue(metadata, checkLimit("maxDepth", options.maxDepth, DEFAULT_MAX_DEPTH));
}

/**
 * True when `metadata` is a JSON object or array. etcd's Go resolver from 3.4.x, 3.5.0 to 3.5.26 and 3.6.0 to 3.6.7 panics
 * when it compares endpoints whose metadata is a map or slice, so services shared with those Go
 * clients should carry string (or number/boolean) metadata.
 */
export function isObjectMetadata(metadata: unknown): boolean {
  return typeof metadata === "object" && metadata !== null;
}
