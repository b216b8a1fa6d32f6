import {
  endpointKey,
  formatAttributes,
  NamingError,
  servicePrefix,
  startsWithScheme,
  validateService,
} from "@etcd-naming/codec";
import { usageError } from "./cli-error.js";

/** Runs a codec check, turning its NamingError into a usage error (exit code 2). */
export function checked<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof NamingError) throw usageError(error.message, { cause: error });
    throw error;
  }
}

/** Validates a service name given on the command line. */
export function serviceArg(service: string): string {
  checked(() => validateService(service));
  return service;
}

/** An address is taken as an id when it has no "/" or starts with a scheme ("unix:///tmp/s", "dns:///h"). */
function looksLikeId(value: string): boolean {
  return !value.includes("/") || startsWithScheme(value);
}

/**
 * Turns an id, an address or a full key into the endpoint's key under `<service>/`. A full key must be
 * under the service: keys of other services are refused rather than silently nested.
 */
export function endpointKeyArg(service: string, idOrKey: string, what: string): string {
  const prefix = servicePrefix(service);
  if (idOrKey.startsWith(prefix)) {
    if (idOrKey.length === prefix.length) throw usageError(`invalid ${what} "${idOrKey}": the key has no id`);
    return idOrKey;
  }
  if (!looksLikeId(idOrKey)) {
    throw usageError(
      `${what} "${idOrKey}" is outside service "${service}": keys must start with "${prefix}"`,
    );
  }
  return checked(() => endpointKey(service, idOrKey));
}

/** Parses `--metadata` as JSON; anything else is a usage error with an example. */
export function metadataArg(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw usageError(
      `invalid --metadata: not JSON (${reason}); quote strings, e.g. --metadata '"zone-a"' or '{"zone":"a"}'`,
      { cause: error },
    );
  }
}

/**
 * The attribute string of repeated `--attr key=value` options: each splits at its first `=`, the value
 * is taken as typed (the attribute string percent-encodes what needs it), a key may appear once.
 */
export function attributesArg(attrs: readonly string[]): string {
  const attributes = new Map<string, string>();
  for (const attr of attrs) {
    const eq = attr.indexOf("=");
    if (eq < 0) {
      throw usageError(`invalid --attr ${JSON.stringify(attr)}: expected key=value, e.g. --attr zone=a`);
    }
    const key = attr.slice(0, eq);
    if (attributes.has(key)) throw usageError(`invalid --attr: the key "${key}" is given twice`);
    attributes.set(key, attr.slice(eq + 1));
  }
  try {
    return formatAttributes(attributes);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw usageError(`invalid --attr: ${reason}`, { cause: error });
  }
}
