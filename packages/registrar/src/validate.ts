import {
  endpointKey,
  isObjectMetadata,
  isServiceKey,
  NamingError,
  printableKey,
  servicePrefix,
  validateAddress,
  validateMetadata,
  validateService,
} from "@etcd-naming/codec";
import type { RegistrarLogger } from "./clock.js";
import { RegistrarError } from "./errors.js";

/**
 * etcd's smallest lease TTL with its default timing flags (heartbeat 100 ms, election 1000 ms):
 * 1.5 election timeouts rounded up to whole seconds. etcd silently raises a smaller TTL, which would
 * make failover slower than asked; a server tuned with larger timeouts has a larger minimum, which the
 * lease keeper detects when the first lease is granted.
 */
export const MIN_TTL_SECONDS = 2;

/** Default lease TTL in seconds: failover after about 10 s, keep-alive every ~3.3 s. */
export const DEFAULT_TTL_SECONDS = 10;

/** etcd's default `--max-txn-ops`. */
export const DEFAULT_MAX_TXN_OPS = 128;

export function validateTtl(ttl: unknown): number {
  if (typeof ttl !== "number" || !Number.isInteger(ttl)) {
    throw new RegistrarError("INVALID_INPUT", `ttl must be a whole number of seconds, got ${String(ttl)}`);
  }
  if (ttl < MIN_TTL_SECONDS) {
    throw new RegistrarError(
      "INVALID_INPUT",
      `ttl ${ttl}s is below etcd's minimum lease TTL of ${MIN_TTL_SECONDS}s (etcd would silently raise it)`,
    );
  }
  // etcd refuses TTLs above 9,000,000,000 s; far beyond any sensible registration.
  if (ttl > 9_000_000_000) {
    throw new RegistrarError("INVALID_INPUT", `ttl ${ttl}s is above etcd's maximum lease TTL`);
  }
  return ttl;
}

/** The largest lease id etcd accepts: ids are int64 on the wire and etcd never grants one below 1. */
export const MAX_LEASE_ID: bigint = 2n ** 63n - 1n;

/**
 * Checks a lease id given as a decimal string and returns it in canonical form, or `undefined` for "0",
 * which means no lease (Go's `clientv3.NoLease`). Ids run from 1 to 2^63 − 1: a larger one would wrap
 * around in etcd's int64 field (2^64 becomes 0, a key that never expires). Throws INVALID_INPUT.
 */
export function checkLeaseId(lease: unknown, what: string): string | undefined {
  if (typeof lease !== "string" || !/^[0-9]+$/.test(lease)) {
    const hint =
      typeof lease === "string" && /^(0x)?[0-9a-f]+$/i.test(lease)
        ? ` (etcdctl prints lease ids in hex: pass BigInt("0x${lease.replace(/^0x/i, "")}").toString())`
        : typeof lease === "number" || typeof lease === "bigint"
          ? " (a number cannot hold every 64-bit id: pass it as a string)"
          : "";
    throw new RegistrarError(
      "INVALID_INPUT",
      `${what}: lease must be a decimal lease id string, got ${describe(lease)}${hint}`,
    );
  }
  const id = BigInt(lease);
  if (id === 0n) return undefined;
  if (id > MAX_LEASE_ID) {
    throw new RegistrarError(
      "INVALID_INPUT",
      `${what}: lease ${describe(lease)} is out of range: etcd lease ids run from 1 to ${MAX_LEASE_ID} ("0" for no lease)`,
    );
  }
  return String(id);
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === "bigint") return `${value}n`;
  return value === null ? "null" : typeof value === "object" ? "an object" : String(value);
}

/** Runs a codec check and turns its `NamingError` into an INVALID_INPUT `RegistrarError`. */
export function checkInput<T>(what: string, check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof NamingError) {
      throw new RegistrarError("INVALID_INPUT", `invalid ${what}: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

export function checkService(service: unknown): string {
  if (typeof service !== "string") {
    throw new RegistrarError("INVALID_INPUT", `service must be a string, got ${typeof service}`);
  }
  checkInput("service", () => validateService(service));
  return service;
}

export function checkAddress(addr: unknown): string {
  if (typeof addr !== "string") {
    throw new RegistrarError("INVALID_INPUT", `addr must be a string, got ${typeof addr}`);
  }
  checkInput("address", () => validateAddress(addr));
  return addr;
}

export function checkMetadata(metadata: unknown): void {
  checkInput("metadata", () => validateMetadata(metadata));
}

/** The registration key: `<service>/<addr>` by default (the Go recipe), or an explicit key under it. */
export function resolveKey(service: string, addr: string, key: string | undefined): string {
  if (key === undefined) return checkInput("key", () => endpointKey(service, addr));
  const prefix = servicePrefix(service);
  if (typeof key !== "string" || !isServiceKey(service, key)) {
    throw new RegistrarError(
      "KEY_OUTSIDE_SERVICE",
      `register: endpoint key should be prefixed with '${prefix}' got: '${String(key)}'`,
    );
  }
  return checkInput("key", () => endpointKey(service, key.slice(prefix.length)));
}

/**
 * etcd's Go resolver from 3.4.x, 3.5.0 through 3.5.26 and 3.6.0 through 3.6.7 panics when an endpoint's metadata is a JSON object, so
 * Go clients sharing the service would crash: say so once per write.
 */
export function warnObjectMetadata(
  logger: RegistrarLogger,
  service: string,
  key: string,
  metadata: unknown,
): void {
  if (metadata !== undefined && isObjectMetadata(metadata)) {
    const shown = printableKey(key);
    logger.warn?.(
      { service, key: shown },
      `endpoint ${shown} has object or array metadata; etcd's Go resolver 3.4.x, 3.5.0-3.5.26 and 3.6.0-3.6.7 panics on it, ` +
        "prefer string metadata such as the attributes option writes (zone=a;weight=3), or keep structured data under a separate key, if Go clients read this service",
    );
  }
}
