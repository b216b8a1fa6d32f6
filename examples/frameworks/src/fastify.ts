// A Fastify server that registers itself in etcd once it listens and drains on SIGTERM/SIGINT: the key goes
// first (clients stop picking this server), requests are still served for the grace period, then Fastify
// closes. The same shape fits any server with a listen and a close (NestJS: `app.listen()` and `app.close()`).
import type { AddressInfo } from "node:net";
import { type Drain, drainOnSignals, type Registration, register } from "@etcd-naming/registrar";
import type { Etcd3 } from "etcd3";
import type { FastifyInstance } from "fastify";

export interface ListenRegisteredOptions {
  client: Etcd3;
  service: string;
  /** Host other processes reach this server on. Default: the address it listens on. */
  advertiseHost?: string;
  /** Ms to keep serving after the key is gone. Default 5000. */
  grace?: number;
  ttl?: number;
}

/**
 * Listens, then registers the address it listens on and arms the drain. Fastify's `onListen` hooks do not
 * hold `listen()` back, so registering after `listen()` resolves is what makes "listening" imply
 * "registered". A close that does not come from the drain (a test, a fatal error) still removes the key
 * first (`preClose`).
 */
export async function listenRegistered(
  app: FastifyInstance,
  listen: { host: string; port: number },
  options: ListenRegisteredOptions,
): Promise<{ url: string; registration: Registration; drain: Drain }> {
  let registration: Registration | undefined;
  let drain: Drain | undefined;
  app.addHook("preClose", async () => {
    drain?.dispose();
    await registration?.deregister();
  });
  const url = await app.listen(listen);
  const { address, port } = app.server.address() as AddressInfo;
  const addr = `${options.advertiseHost ?? address}:${port}`;
  const { client, service, ttl } = options;
  registration = await register({ client, service, addr, ...(ttl === undefined ? {} : { ttl }) });
  drain = drainOnSignals(registration, { grace: options.grace ?? 5_000, close: () => app.close() });
  return { url, registration, drain };
}
