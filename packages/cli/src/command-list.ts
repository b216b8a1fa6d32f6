import {
  decodeEndpoint,
  decodePauseMarker,
  endpointKeyOfMarker,
  formatAttributes,
  keyFromBytes,
  metadataAttributes,
  pauseMarkerPrefix,
  printableKey,
} from "@etcd-naming/codec";
import { PrefixLister, type PrefixListing } from "@etcd-naming/etcd";
import { type Etcd3, EtcdPermissionDeniedError } from "etcd3";
import type { CommandContext } from "./context.js";
import { serviceArg } from "./endpoint-args.js";
import { leaseHex, readService, type StoredEndpoint } from "./registry.js";
import { formatTable } from "./table.js";

export interface ListOptions {
  /** `--wide`: the create and mod revisions and the version as columns too. */
  wide?: boolean;
}

/** One endpoint as `list --json` prints it. */
export interface ListedEndpoint {
  key: string;
  addr: string;
  metadata: unknown;
  /** The attributes the metadata carries (attribute string or object fields); `{}` when none. */
  attributes: Record<string, string>;
  /** Hex, the form etcdctl prints and `etcdctl lease timetolive` takes; absent for permanent keys. */
  lease?: string;
  /** Seconds left on the lease; -1 once it expired. */
  ttl?: number;
  modRevision: number;
  createRevision: number;
  /** Writes to the key since it was created. */
  version: number;
}

/** A stored endpoint as `list` and `get` print it. */
export function toListed(e: StoredEndpoint, ttls: Map<string, number>): ListedEndpoint {
  const lease = leaseHex(e.lease);
  const ttl = ttls.get(e.lease);
  return {
    key: e.key,
    addr: e.addr,
    metadata: e.metadata,
    attributes: { ...metadataAttributes(e.metadata).attributes },
    ...(lease === undefined ? {} : { lease, ...(ttl === undefined ? {} : { ttl }) }),
    modRevision: Number(e.modRevision),
    createRevision: Number(e.createRevision),
    version: Number(e.version),
  };
}

/** A remaining TTL as a cell: "?" when unknown, "expired" below 0. */
export function ttlText(ttl: number | undefined): string {
  return ttl === undefined ? "?" : ttl < 0 ? "expired" : `${ttl}s`;
}

/** Remaining TTL per lease (decimal id → seconds); a lease that cannot be read is left out. */
export async function leaseTtls(client: Etcd3, leases: string[]): Promise<Map<string, number>> {
  const ttls = new Map<string, number>();
  await Promise.all(
    [...new Set(leases)].map(async (id) => {
      try {
        const response = await client.leaseClient.leaseTimeToLive({ ID: id });
        ttls.set(id, Number(response.TTL));
      } catch {
        // The lease may vanish between the range and this call; the table shows "?" for it.
      }
    }),
  );
  return ttls;
}

/** A paused endpoint as `list` shows it: from its pause marker (the key itself is absent). */
export interface PausedEndpoint {
  key: string;
  /** From the endpoint value the marker keeps; absent when it keeps none. */
  addr?: string;
  attributes: Record<string, string>;
  lease?: string;
}

/**
 * The paused endpoints of `service`: markers whose key is absent (a marker beside a live key is a
 * previous owner's). A role that may not read the markers sees none: pausing is then not in use for it.
 */
async function readPaused(client: Etcd3, service: string, served: Set<string>): Promise<PausedEndpoint[]> {
  let listing: PrefixListing;
  try {
    listing = await new PrefixLister(client, { viaClient: true }).list(pauseMarkerPrefix(service));
  } catch (error) {
    if (error instanceof EtcdPermissionDeniedError) return [];
    throw error;
  }
  const paused: PausedEndpoint[] = [];
  for (const kv of listing.kvs) {
    const key = endpointKeyOfMarker(keyFromBytes(kv.key));
    const marker = decodePauseMarker(kv.value);
    if (key === undefined || served.has(key) || marker?.state !== "paused") continue;
    const decoded = marker.value === undefined ? undefined : decodeEndpoint(marker.value);
    const lease = leaseHex(kv.lease);
    paused.push({
      key,
      ...(decoded?.ok ? { addr: decoded.endpoint.addr } : {}),
      attributes: decoded?.ok ? { ...metadataAttributes(decoded.endpoint.metadata).attributes } : {},
      ...(lease === undefined ? {} : { lease }),
    });
  }
  return paused.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Attributes as the attribute string (`weight=3;zone=a`), or "-". */
function attributeCell(attributes: Record<string, string>): string {
  if (Object.keys(attributes).length === 0) return "-";
  try {
    return formatAttributes(attributes);
  } catch {
    // Object metadata may have keys outside the attribute grammar: show them as JSON instead.
    return JSON.stringify(attributes);
  }
}

/** `list`: every endpoint of the service with lease and TTL, malformed values shown apart. */
export async function listCommand(
  ctx: CommandContext,
  service: string,
  options: ListOptions,
): Promise<number> {
  serviceArg(service);
  const client = await ctx.connect();
  const snapshot = await readService(client, service);
  const ttls = await leaseTtls(
    client,
    snapshot.endpoints.map((e) => e.lease).filter((l) => l !== "0"),
  );
  const paused = await readPaused(client, service, new Set(snapshot.endpoints.map((e) => e.key)));
  const listed: ListedEndpoint[] = snapshot.endpoints.map((e) => toListed(e, ttls));
  const skipped = snapshot.skipped.map((s) => ({
    key: s.key,
    reason: s.reason,
    code: s.code,
    modRevision: Number(s.modRevision),
  }));

  const { out } = ctx;
  if (out.format !== "simple") {
    // stdout stays the served endpoints for scripts; skipped values and paused endpoints are reported
    // beside it, on stderr as JSON lines, never dropped.
    if (out.format === "json") out.records(listed, () => {});
    else
      out.records(
        listed.map((e) => ({ ...e, attributes: attributeCell(e.attributes) })),
        () => {},
      );
    if (paused.length > 0) ctx.out.stderr.write(`${JSON.stringify({ paused })}\n`);
    if (skipped.length > 0) ctx.out.stderr.write(`${JSON.stringify({ skipped })}\n`);
    return 0;
  }
  const wide = options.wide === true;
  // The attribute column appears when some endpoint has attributes.
  const withAttributes = [...listed, ...paused].some((e) => Object.keys(e.attributes).length > 0);
  if (listed.length === 0) {
    out.line(`no endpoints in ${service}`);
  } else {
    // Keys and addresses are anyone's bytes: shown escaped, so none can hide bytes or drive the terminal.
    const rows = listed.map((e) => [
      printableKey(e.key),
      printableKey(e.addr),
      e.metadata === null || e.metadata === undefined ? "-" : JSON.stringify(e.metadata),
      ...(withAttributes ? [printableKey(attributeCell(e.attributes))] : []),
      e.lease ?? "-",
      e.lease === undefined ? "-" : ttlText(e.ttl),
      ...(wide ? [String(e.createRevision), String(e.modRevision), String(e.version)] : []),
    ]);
    const head = [
      "KEY",
      "ADDRESS",
      "METADATA",
      ...(withAttributes ? ["ATTRIBUTES"] : []),
      "LEASE",
      "TTL",
      ...(wide ? ["CREATE REV", "MOD REV", "VERSION"] : []),
    ];
    for (const line of formatTable(head, rows, (t) => out.paint("bold", t))) out.line(line);
  }
  if (paused.length > 0) {
    out.line();
    const what = paused.length === 1 ? "endpoint" : "endpoints";
    out.line(out.paint("yellow", `paused ${paused.length} ${what} (not served; "resume" serves again):`));
    const rows = paused.map((p) => [
      printableKey(p.key),
      p.addr === undefined ? "?" : printableKey(p.addr),
      ...(withAttributes ? [printableKey(attributeCell(p.attributes))] : []),
      p.lease ?? "-",
    ]);
    const head = ["KEY", "ADDRESS", ...(withAttributes ? ["ATTRIBUTES"] : []), "LEASE"];
    for (const line of formatTable(head, rows, (t) => out.paint("bold", t))) out.line(`  ${line}`);
  }
  if (skipped.length > 0) {
    out.line();
    out.line(
      out.paint(
        "yellow",
        `skipped ${skipped.length} malformed ${skipped.length === 1 ? "value" : "values"}:`,
      ),
    );
    for (const line of formatTable(
      ["KEY", "REASON"],
      skipped.map((s) => [printableKey(s.key), printableKey(s.reason)]),
      (t) => out.paint("bold", t),
    )) {
      out.line(`  ${line}`);
    }
  }
  return 0;
}
