import type { Etcd3 } from "etcd3";
import type { CommandContext } from "./context.js";
import { serviceArg } from "./endpoint-args.js";
import { leaseHex, readService } from "./registry.js";
import { formatTable } from "./table.js";

export interface ListOptions {
  json?: boolean;
}

/** One endpoint as `list --json` prints it. */
export interface ListedEndpoint {
  key: string;
  addr: string;
  metadata: unknown;
  /** Hex, the form etcdctl prints and `etcdctl lease timetolive` takes; absent for permanent keys. */
  lease?: string;
  /** Seconds left on the lease; -1 once it expired. */
  ttl?: number;
  modRevision: number;
}

/** Remaining TTL per lease (decimal id → seconds); a lease that cannot be read is left out. */
async function leaseTtls(client: Etcd3, leases: string[]): Promise<Map<string, number>> {
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

/** `list`: every endpoint of the service with lease and TTL, malformed values shown apart. */
export async function listCommand(
  ctx: CommandContext,
  service: string,
  _options: ListOptions,
): Promise<number> {
  serviceArg(service);
  const client = await ctx.connect();
  const snapshot = await readService(client, service);
  const ttls = await leaseTtls(
    client,
    snapshot.endpoints.map((e) => e.lease).filter((l) => l !== "0"),
  );
  const listed: ListedEndpoint[] = snapshot.endpoints.map((e) => {
    const item: ListedEndpoint = {
      key: e.key,
      addr: e.addr,
      metadata: e.metadata,
      modRevision: Number(e.modRevision),
    };
    const lease = leaseHex(e.lease);
    if (lease !== undefined) {
      item.lease = lease;
      const ttl = ttls.get(e.lease);
      if (ttl !== undefined) item.ttl = ttl;
    }
    return item;
  });
  const skipped = snapshot.skipped.map((s) => ({
    key: s.key,
    reason: s.reason,
    code: s.code,
    modRevision: Number(s.modRevision),
  }));

  const { out } = ctx;
  if (out.json) {
    // stdout stays a plain array for scripts; skipped values are reported beside it, never dropped.
    out.line(JSON.stringify(listed, null, 2));
    if (skipped.length > 0) ctx.out.stderr.write(`${JSON.stringify({ skipped })}\n`);
    return 0;
  }
  if (listed.length === 0) {
    out.line(`no endpoints in ${service}`);
  } else {
    const rows = listed.map((e) => [
      e.key,
      e.addr,
      e.metadata === null || e.metadata === undefined ? "-" : JSON.stringify(e.metadata),
      e.lease ?? "-",
      e.lease === undefined ? "-" : e.ttl === undefined ? "?" : e.ttl < 0 ? "expired" : `${e.ttl}s`,
    ]);
    for (const line of formatTable(["KEY", "ADDRESS", "METADATA", "LEASE", "TTL"], rows, (t) =>
      out.paint("bold", t),
    )) {
      out.line(line);
    }
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
      skipped.map((s) => [s.key, s.reason]),
      (t) => out.paint("bold", t),
    )) {
      out.line(`  ${line}`);
    }
  }
  return 0;
}
