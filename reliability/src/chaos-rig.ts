// The set-up the cluster chaos suites share: a 3-member cluster of their own, etcd's history of the
// suite's root, a Writer, and everything the suite opens on it, torn down in one order after the file.
import { type EtcdCluster, startEtcdCluster } from "@etcd-naming/etcd-fixture";
import type { GreeterServer } from "@etcd-naming/etcd-fixture/greeter";
import type { EtcdResolverHandle } from "@etcd-naming/grpc-js";
import type { Registration } from "@etcd-naming/registrar";
import { Etcd3, type IOptions } from "etcd3";
import { afterAll, beforeAll } from "vitest";
import { memberClientOptions, until, Writer } from "./cluster-tools.js";
import { diffSets, etcdEndpoints, History } from "./history.js";
import type { WatchRecorder } from "./watch-recorder.js";

/** What a chaos file works on; `cluster`, `history` and `writer` are there once `beforeAll` ran. */
export interface ChaosRig {
  readonly cluster: EtcdCluster;
  readonly history: History;
  readonly writer: Writer;
  /** Closed after the file, in this order: recorders, resolver, registrations, servers, clients. */
  readonly recorders: WatchRecorder[];
  resolver: EtcdResolverHandle | undefined;
  readonly registrations: Registration[];
  readonly servers: GreeterServer[];
  /** A new client on every member, closed after the file. */
  client(options?: Omit<IOptions, "hosts">): Etcd3;
  /**
   * Waits until every recorder equals etcd's own list of its service, with the history read up to date
   * before and after; resolves with the client it read etcd through.
   */
  converge(): Promise<Etcd3>;
}

/**
 * Starts the cluster (members `<name>-0`…) before the file's tests and tears it all down after them. A
 * file's own `afterAll`, registered after this call, runs before this teardown (e.g. to resume a paused
 * member). `start` makes the cluster (default a 3-member `startEtcdCluster`).
 */
export function useChaosCluster(
  name: string,
  root: string,
  start: (name: string) => Promise<EtcdCluster> = (n) => startEtcdCluster({ size: 3, name: n }),
): ChaosRig {
  let cluster: EtcdCluster | undefined;
  let history: History | undefined;
  let writer: Writer | undefined;
  const clients: Etcd3[] = [];
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error(`the chaos cluster ${name} is not started yet`);
    return value;
  };
  const rig: ChaosRig = {
    get cluster() {
      return started(cluster);
    },
    get history() {
      return started(history);
    },
    get writer() {
      return started(writer);
    },
    recorders: [],
    resolver: undefined,
    registrations: [],
    servers: [],
    client(options = {}) {
      const { endpoints, members } = started(cluster);
      const base = members[0] === undefined ? {} : memberClientOptions.get(members[0]);
      const created = new Etcd3({ ...base, ...options, hosts: endpoints });
      clients.push(created);
      return created;
    },
    async converge() {
      await rig.history.sync();
      const reader = rig.client();
      for (const r of rig.recorders) {
        await until(async () => diffSets(r.current(), await etcdEndpoints(reader, r.service)) === undefined, {
          describe: async () => `${r.name}: ${diffSets(r.current(), await etcdEndpoints(reader, r.service))}`,
        });
      }
      await rig.history.sync();
      return reader;
    },
  };

  beforeAll(async () => {
    cluster = await start(name);
    history = await History.start(cluster, root);
    writer = new Writer(cluster);
  });

  afterAll(async () => {
    await Promise.all(rig.recorders.map((r) => r.watcher.close()));
    await rig.resolver?.close();
    await Promise.all(rig.registrations.map((r) => r.deregister().catch(() => {})));
    await Promise.all(rig.servers.map((s) => s.close()));
    for (const c of clients) c.close();
    writer?.close();
    history?.close();
    await cluster?.close();
  });

  return rig;
}
