import { NamingError, type NamingErrorCode } from "./naming-error.js";

/**
 * Checks an endpoint address (`host:port`, `[v6]:port`, `unix:///path`, …): it must be a non-empty
 * string without whitespace, control characters or lone surrogates. Throws NamingError INVALID_ADDRESS.
 */
export function validateAddress(addr: string): void {
  if (typeof addr !== "string") throw notString("INVALID_ADDRESS", "address", addr);
  if (addr === "") throw new NamingError("INVALID_ADDRESS", "address is empty");
  const bad = findBadCharacter(addr);
  if (bad) throw new NamingError("INVALID_ADDRESS", `address ${JSON.stringify(addr)} ${bad}`);
}

/**
 * Checks a service name and returns it. Names may be nested (`foo/bar/my-service`) but must not be
 * empty, start or end with `/`, contain `//`, `.` or `..` segments, whitespace, control characters
 * or lone surrogates. Throws NamingError INVALID_SERVICE naming the bad input.
 */
export function validateService(service: string): string {
  if (typeof service !== "string") throw notString("INVALID_SERVICE", "service", service);
  if (service === "") throw new NamingError("INVALID_SERVICE", "service name is empty");
  const shown = `service ${JSON.stringify(service)}`;
  const bad = findBadCharacter(service);
  if (bad) throw new NamingError("INVALID_SERVICE", `${shown} ${bad}`);
  if (service.startsWith("/")) throw new NamingError("INVALID_SERVICE", `${shown} must not start with "/"`);
  if (service.endsWith("/")) {
    throw new NamingError("INVALID_SERVICE", `${shown} must not end with "/" (the key prefix adds it)`);
  }
  for (const segment of service.split("/")) {
    if (segment === "") throw new NamingError("INVALID_SERVICE", `${shown} has an empty segment ("//")`);
    if (segment === "." || segment === "..") {
      throw new NamingError("INVALID_SERVICE", `${shown} has a "${segment}" segment`);
    }
  }
  return service;
}

/**
 * The etcd key prefix of a service's endpoints: `"my-service"` → `"my-service/"`. The trailing
 * slash keeps `my-service-2/…` out of a prefix read of `my-service`. Validates the service.
 */
export function servicePrefix(service: string): string {
  return validateService(service) + "/";
}

/**
 * The etcd key of one endpoint: `endpointKey("my-service", "1.2.3.4:50051")` →
 * `"my-service/1.2.3.4:50051"`. Without an explicit id, pass the address (the Go convention). Ids
 * may contain `/` (a `unix:///path` address), but not whitespace or control characters. Throws
 * INVALID_SERVICE or INVALID_KEY.
 */
export function endpointKey(service: string, id: string): string {
  const prefix = servicePrefix(service);
  if (typeof id !== "string") throw notString("INVALID_KEY", "endpoint id", id);
  if (id === "")
    throw new NamingError("INVALID_KEY", `endpoint id for service ${JSON.stringify(service)} is empty`);
  const bad = findBadCharacter(id);
  if (bad) throw new NamingError("INVALID_KEY", `endpoint id ${JSON.stringify(id)} ${bad}`);
  return prefix + id;
}

/**
 * True when `key` is an endpoint key of `service`: it starts with `<service>/` and has a non-empty
 * rest. As in Go, the rest may itself contain `/`, so keys of a nested service `svc/sub` also count
 * for `svc`. Throws INVALID_SERVICE for an invalid service.
 */
export function isServiceKey(service: string, key: string): boolean {
  const prefix = servicePrefix(service);
  return typeof key === "string" && key.length > prefix.length && key.startsWith(prefix);
}

/** Describes the first character a name must not hold, or returns undefined. */
export function findBadCharacter(s: string): string | undefined {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // Printable ASCII other than the space is none of what follows (\s has no member in 0x21..0x7e).
    if (c > 0x20 && c < 0x7f) continue;
    const at = `at index ${i}`;
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return `contains a control character (U+${hex(c)}) ${at}`;
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
      return `contains a lone surrogate (U+${hex(c)}) ${at}`;
    }
    if (c >= 0xdc00 && c <= 0xdfff) return `contains a lone surrogate (U+${hex(c)}) ${at}`;
    if (/\s/.test(s[i]!)) return `contains whitespace (U+${hex(c)}) ${at}`;
  }
  return undefined;
}

function hex(c: number): string {
  return c.toString(16).toUpperCase().padStart(4, "0");
}

function notString(code: NamingErrorCode, what: string, value: unknown): NamingError {
  return new NamingError(code, `${what} must be a string, got ${value === null ? "null" : typeof value}`);
}
