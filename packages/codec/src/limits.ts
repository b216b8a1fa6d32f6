/** The default largest value `decodeEndpoint` reads and `encodeEndpoint` writes, in UTF-8 bytes. */
export const DEFAULT_MAX_BYTES = 65536;

/** The default deepest metadata nesting (objects and arrays inside one another) that is accepted. */
export const DEFAULT_MAX_DEPTH = 32;

export function checkLimit(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== "number" ||
    Number.isNaN(value) ||
    value < 0 ||
    !(Number.isInteger(value) || value === Infinity)
  ) {
    throw new RangeError(`${name} must be a non-negative integer or Infinity, got ${String(value)}`);
  }
  return value;
}
