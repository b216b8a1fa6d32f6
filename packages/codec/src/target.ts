import { validateService } from "./keys.js";
import { NamingError } from "./naming-error.js";

/** A parsed `etcd:///<service>?k=v` target. `params` has a null prototype. */
export interface Target {
  service: string;
  params: Record<string, string>;
}

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;

/** Whether `text` starts with a URI scheme and its colon (`etcd:`, `unix:`, `dns:`), as RFC 3986 spells one. */
export function startsWithScheme(text: string): boolean {
  return SCHEME.test(text);
}

/** Options of {@link parseTarget}. */
export interface ParseTargetOptions {
  /**
   * The scheme the target must have (case-insensitive), default `"etcd"`: a resolver registered under
   * another scheme parses its targets with the same grammar.
   */
  scheme?: string;
}

/**
 * Parses a gRPC target of the form `etcd:///<service>[?k=v&…]`: the service may be nested and is
 * percent-decoded, as are the query parameters. A target is a URI (RFC 3986), not an HTML form: `+` is
 * kept as `+` (`?zone=a+b` is `a+b`; a space is `%20`). `etcd://my-service` (which grpc-js reads as an
 * authority) and any other non-empty authority are rejected with a hint showing the `etcd:///…` form,
 * as are other schemes, fragments and repeated parameters. Throws NamingError INVALID_TARGET; for a bad
 * service its `cause` is the INVALID_SERVICE error. This is the one target grammar of the project: the
 * `etcd:` resolver of `@etcd-naming/grpc-js` parses with it too.
 *
 * @example
 * parseTarget("etcd:///foo/my-service?zone=a"); // { service: "foo/my-service", params: { zone: "a" } }
 */
export function parseTarget(uri: string, options: ParseTargetOptions = {}): Target {
  const expected = options.scheme ?? "etcd";
  if (typeof uri !== "string") {
    throw new NamingError(
      "INVALID_TARGET",
      `target must be a string, got ${uri === null ? "null" : typeof uri}`,
    );
  }
  const shown = `target ${JSON.stringify(uri)}`;
  const scheme = SCHEME.exec(uri);
  if (!scheme) {
    const hint = uri !== "" && !uri.includes(":") ? `; did you mean "${expected}:///${uri}"?` : "";
    throw invalidTarget(`${shown} has no scheme: expected ${expected}:///<service>${hint}`);
  }
  if (scheme[1]!.toLowerCase() !== expected.toLowerCase()) {
    throw invalidTarget(
      `${shown} has scheme "${scheme[1]}": only ${expected}:///<service> targets are resolved here`,
    );
  }
  const rest = uri.slice(scheme[0].length);
  if (rest.includes("#")) throw invalidTarget(`${shown} has a fragment ("#…"), which a target cannot carry`);
  if (!rest.startsWith("//")) {
    throw invalidTarget(`${shown} is missing "//": write "${expected}:///${rest.replace(/^\/+/, "")}"`);
  }
  const afterSlashes = rest.slice(2);
  const authorityEnd = afterSlashes.search(/[/?]/);
  const authority = authorityEnd < 0 ? afterSlashes : afterSlashes.slice(0, authorityEnd);
  const tail = authorityEnd < 0 ? "" : afterSlashes.slice(authorityEnd);
  if (authority !== "") {
    if (tail.startsWith("/") && tail.length > 1) {
      throw invalidTarget(
        `${shown} has an authority ("${authority}"); etcd endpoints are configured on the client, ` +
          `not in the target: write "${expected}://${tail}"`,
      );
    }
    throw invalidTarget(
      `${shown} names "${authority}" as the authority (grpc-js reads the part after "//" that way), ` +
        `not as the service: write "${expected}:///${authority}${tail.replace(/^\//, "")}" (three slashes)`,
    );
  }
  if (!tail.startsWith("/")) {
    throw invalidTarget(`${shown} names no service: expected ${expected}:///<service>`);
  }
  const queryStart = tail.indexOf("?");
  const rawPath = queryStart < 0 ? tail.slice(1) : tail.slice(1, queryStart);
  const rawQuery = queryStart < 0 ? "" : tail.slice(queryStart + 1);

  let service: string;
  try {
    service = validateService(percentDecode(rawPath, shown));
  } catch (error) {
    if (error instanceof NamingError && error.code === "INVALID_TARGET") throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw invalidTarget(`${shown} names an invalid service: ${reason}`, error);
  }

  const params: Record<string, string> = Object.create(null);
  for (const pair of rawQuery.split("&")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    const key = percentDecode(eq < 0 ? pair : pair.slice(0, eq), shown);
    const value = eq < 0 ? "" : percentDecode(pair.slice(eq + 1), shown);
    if (key === "") throw invalidTarget(`${shown} has a parameter without a name ("${pair}")`);
    if (Object.hasOwn(params, key)) throw invalidTarget(`${shown} repeats the parameter "${key}"`);
    params[key] = value;
  }
  return { service, params };
}

/**
 * The target URI of a service, the inverse of {@link parseTarget}: `formatTarget("foo/svc",
 * { zone: "a" })` → `"etcd:///foo/svc?zone=a"`. Segments and parameters are percent-encoded.
 * Throws INVALID_SERVICE for a bad service and INVALID_TARGET for bad parameters.
 */
export function formatTarget(service: string, params?: Record<string, string>): string {
  validateService(service);
  const path = service
    .split("/")
    .map((segment) => encodeURIComponent(segment).replace(/%3A/g, ":").replace(/%40/g, "@"))
    .join("/");
  const query: string[] = [];
  for (const key of Object.keys(params ?? {})) {
    const value = params![key];
    if (key === "") throw invalidTarget("target parameters cannot have an empty name");
    if (typeof value !== "string") {
      throw invalidTarget(
        `target parameter "${key}" must be a string, got ${value === null ? "null" : typeof value}`,
      );
    }
    query.push(percentEncode(key) + "=" + percentEncode(value));
  }
  return `etcd:///${path}` + (query.length > 0 ? "?" + query.join("&") : "");
}

function percentDecode(s: string, shown: string): string {
  try {
    return decodeURIComponent(s);
  } catch (error) {
    throw invalidTarget(`${shown} has a malformed percent-encoding in "${s}"`, error);
  }
}

function percentEncode(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch (error) {
    throw invalidTarget(`target parameter ${JSON.stringify(s)} contains a lone surrogate`, error);
  }
}

function invalidTarget(message: string, cause?: unknown): NamingError {
  return new NamingError("INVALID_TARGET", message, cause === undefined ? undefined : { cause });
}
