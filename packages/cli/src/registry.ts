import { decodeEndpoint, keyFromBytes, servicePrefix } from "@etcd-naming/codec";
import { PrefixLister, type PrefixListing } from "@etcd-naming/etcd";
import { formatLeaseId } from "@etcd-naming/registrar";
import { type Etcd3, EtcdPermissionDeniedError } from "etcd3";
import { CliError } from "./cli-error.js";

/** One decodable endpoint as stored in etcd. */
export interface StoredEndpoint {
  key: string;
  addr: string;
  metadata: unknown;
  /** Decimal lease id as etcd3 returns it; "0" when the key has no lease. */
  lease: string;
  modRevision: string;
  createRevision: string;
  /** How many times the key was written since it was created. */
  version: string;
}

/** A value under the service prefix that is not a usable endpoint. */
export interface SkippedValue {
  key: string;
  reason: string;
  code: string;
  modRevision: string;
}

export interface ServiceSnapshot {
  endpoints: StoredEndpoint[];
  skipped: SkippedValue[];
  revision: string;
}

/** Runs a write of `key`; etcd's RBAC refusal becomes an error naming the key and the permission it needs. */
export async function writing<T>(service: string, key: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (!(error instanceof EtcdPermissionDeniedError)) throw error;
    const where = servicePrefix(service);
    throw new CliError(
      "PERMISSION_DENIED",
      `etcd permission denied: writing ${key} needs the readwrite permission on the prefix ${where}`,
      { cause: error },
    );
  }
}

/** Reads every key under `<service>/` (in pages, at one revision), split into endpoints and skipped values, by key. */
export async function readService(client: Etcd3, service: string): Promise<ServiceSnapshot> {
  let response: PrefixListing;
  try {
    response = await new PrefixLister(client, { viaClient: true }).list(servicePrefix(service));
  } catch (error) {
    if (!(error instanceof EtcdPermissionDeniedError)) throw error;
    const where = servicePrefix(service);
    throw new CliError(
      "PERMISSION_DENIED",
      `etcd permission denied: reading ${where} needs the read permission on the prefix ${where}`,
      { cause: error },
    );
  }
  const kvs = [...response.kvs].sort((a, b) => Buffer.compare(a.key, b.key));
  const endpoints: StoredEndpoint[] = [];
  const skipped: SkippedValue[] = [];
  for (const kv of kvs) {
    // Exactly: keys that differ only in bytes that are not UTF-8 are different endpoints.
    const key = keyFromBytes(kv.key);
    const decoded = decodeEndpoint(kv.value);
    if (decoded.ok) {
      endpoints.push({
        key,
        addr: decoded.endpoint.addr,
        metadata: decoded.endpoint.metadata,
        lease: kv.lease,
        modRevision: kv.mod_revision,
        createRevision: kv.create_revision,
        version: kv.version,
      });
    } else {
      skipped.push({
        key,
        reason: decoded.error.message,
        code: decoded.error.code,
        modRevision: kv.mod_revision,
      });
    }
  }
  return { endpoints, skipped, revision: response.revision };
}

/** A lease id the way etcdctl prints and accepts it (16 hex digits); undefined for "no lease". */
export function leaseHex(lease: string | undefined): string | undefined {
  if (lease === undefined || lease === "" || lease === "0") return undefined;
  return formatLeaseId(lease);
}
