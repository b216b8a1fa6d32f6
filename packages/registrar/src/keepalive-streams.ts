import type { Etcd3, IDuplexStream, ILeaseKeepAliveRequest, ILeaseKeepAliveResponse } from "etcd3";
import { GRPCUnavailableError } from "etcd3";

export type KeepAliveStream = IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse>;

// The parts of etcd3's connection pool used here. They are not public API, so they are described
// rather than imported; etcd3 is pinned to ^1.1.2, whose pool has this shape.
interface PoolHost {
  readonly host: string;
}
interface LeaseGrpcClient {
  leaseKeepAlive(metadata: unknown, options?: object): KeepAliveStream & { readonly writable?: boolean };
}
interface Pool {
  readonly hosts: PoolHost[];
  readonly callOptionsFactory?: object | ((context: object) => object);
  withConnection<T>(
    service: "Lease",
    fn: (args: { resource: PoolHost; client: LeaseGrpcClient; metadata: unknown }) => T,
    hosts?: Iterator<PoolHost>,
  ): Promise<T>;
  markFailed(resource: PoolHost, error: Error): void;
}

/** A keep-alive stream and the member it went to (unknown if the pool cannot tell). */
export interface OpenedKeepAlive {
  readonly stream: KeepAliveStream;
  readonly host: PoolHost | undefined;
}

/**
 * Opens keep-alive streams on the client's members, preferring those that went silent least recently.
 * etcd3's own `leaseKeepAlive()` picks a member at random and never says which: a stream to a member
 * that is stopped or cut off while the others are fine stays open, silent, until the lease expires.
 */
export class KeepAliveStreams {
  private readonly lastSilent = new Map<PoolHost, number>();
  private silences = 0;

  constructor(readonly client: Etcd3) {}

  private get pool(): Pool | undefined {
    const pool = (this.client as unknown as { pool?: Pool }).pool;
    return typeof pool?.withConnection === "function" && Array.isArray(pool.hosts) ? pool : undefined;
  }

  open(): Promise<OpenedKeepAlive> {
    const pool = this.pool;
    if (pool === undefined) {
      return this.client.leaseClient.leaseKeepAlive().then((stream) => ({ stream, host: undefined }));
    }
    return pool.withConnection(
      "Lease",
      ({ resource, client, metadata }) => {
        const factory = pool.callOptionsFactory;
        const options =
          typeof factory === "function"
            ? factory({ service: "Lease", method: "leaseKeepAlive", isStream: true })
            : (factory ?? {});
        const stream = client.leaseKeepAlive(metadata, options);
        // What etcd3's own leaseKeepAlive() does: a stream error counts against the member.
        stream.on("error", (error: Error) => {
          if (stream.writable) pool.markFailed(resource, error);
        });
        return { stream, host: resource };
      },
      this.preferred(pool),
    );
  }

  /**
   * `host` did not answer a keep-alive within a tick: close its channels (so the client's other calls
   * reconnect too) unless it is the only member, and send the next streams elsewhere.
   */
  silent(host: PoolHost | undefined, reason: string): void {
    const pool = this.pool;
    if (host === undefined || pool === undefined) return;
    this.silences += 1;
    this.lastSilent.set(host, this.silences);
    if (pool.hosts.length > 1) pool.markFailed(host, new GRPCUnavailableError(reason));
  }

  private *preferred(pool: Pool): Generator<PoolHost> {
    const hosts = [...pool.hosts];
    for (let i = hosts.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [hosts[i], hosts[j]] = [hosts[j]!, hosts[i]!];
    }
    hosts.sort((a, b) => (this.lastSilent.get(a) ?? 0) - (this.lastSilent.get(b) ?? 0));
    for (;;) yield* hosts;
  }
}
