import { Operation } from "@etcd-naming/codec";
import { createEndpointManager, type EndpointUpdate } from "@etcd-naming/registrar";
import type { Etcd3 } from "etcd3";
import { sampleAddr } from "./support.js";

/** The key of endpoint `i` of a bulk-loaded service. */
export const bulkKey = (service: string, i: number): string => `${service}/e${i}`;

/** Puts `count` endpoints under `service`, in transactions of at most 128 operations (etcd's limit). */
export async function putEndpoints(
  client: Etcd3,
  service: string,
  count: number,
  port = 8080,
): Promise<void> {
  const manager = createEndpointManager(client, service);
  const updates: EndpointUpdate[] = [];
  for (let i = 0; i < count; i++) {
    updates.push({ op: Operation.Add, key: bulkKey(service, i), endpoint: { addr: sampleAddr(i, port) } });
  }
  await manager.update(updates, { split: true });
}

/** Deletes everything under `service/`. */
export async function deleteService(client: Etcd3, service: string): Promise<void> {
  await client.delete().prefix(`${service}/`);
}
