// Writes endpoints the way the Go registrar does (its exact JSON bytes), straight through etcd3, so the
// resolver is tested against the wire format rather than against another package of this repo.
import { encodeEndpoint } from "@etcd-naming/codec";
import type { Namespace } from "etcd3";

export function registerEndpoint(
  client: Namespace,
  service: string,
  addr: string,
  options: { id?: string; metadata?: unknown } = {},
): Promise<unknown> {
  const value = encodeEndpoint(
    options.metadata === undefined ? { addr } : { addr, metadata: options.metadata },
  );
  return client
    .put(`${service}/${options.id ?? addr}`)
    .value(value)
    .exec();
}

export function unregisterEndpoint(client: Namespace, service: string, id: string): Promise<unknown> {
  return client.delete().key(`${service}/${id}`).exec();
}

/** Puts many endpoints, `perTxn` per etcd transaction (one revision, one watch response each). */
export async function registerMany(
  client: Namespace,
  service: string,
  endpoints: readonly { id: string; addr: string }[],
  perTxn = 100,
): Promise<void> {
  for (let start = 0; start < endpoints.length; start += perTxn) {
    const puts = endpoints
      .slice(start, start + perTxn)
      .map(({ id, addr }) => client.put(`${service}/${id}`).value(encodeEndpoint({ addr })));
    // A comparison that always holds turns the batch into one unconditional transaction.
    await client
      .if(`${service}/~`, "Version", ">", -1)
      .then(...puts)
      .commit();
  }
}
