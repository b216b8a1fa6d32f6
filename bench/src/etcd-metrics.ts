import { readEtcdMetrics } from "@etcd-naming/etcd-fixture";

/** The etcd server counters the benchmarks read: watchers, watch streams, leases, keep-alive streams. */
export interface EtcdCounters {
  /** `etcd_debugging_mvcc_watcher_total`: watchers open on the server right now. */
  watchers: number;
  /** `etcd_debugging_mvcc_watch_stream_total`: watch streams open right now. */
  watchStreams: number;
  /** `etcd_debugging_lease_granted_total`: leases granted since start. */
  leasesGranted: number;
  /** `grpc_server_started_total{grpc_method="LeaseKeepAlive"}`: keep-alive streams opened since start. */
  keepAliveStreams: number;
}

/** Reads the counters from etcd's Prometheus endpoint (`<clientUrl>/metrics`). */
export async function readCounters(clientUrl: string): Promise<EtcdCounters> {
  const metrics = await readEtcdMetrics(clientUrl, { timeoutMs: 5_000 });
  return {
    watchers: metrics.value("etcd_debugging_mvcc_watcher_total"),
    watchStreams: metrics.value("etcd_debugging_mvcc_watch_stream_total"),
    leasesGranted: metrics.value("etcd_debugging_lease_granted_total"),
    keepAliveStreams: metrics.value("grpc_server_started_total", { grpc_method: "LeaseKeepAlive" }),
  };
}
