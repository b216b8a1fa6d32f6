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

function sample(text: string, name: string, labels = ""): number {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (labels === "" ? !rest.startsWith(" ") : !(rest.startsWith("{") && rest.includes(labels))) continue;
    const value = Number(rest.slice(rest.lastIndexOf(" ") + 1));
    if (Number.isFinite(value)) return value;
  }
  throw new Error(`etcd /metrics has no ${name}${labels === "" ? "" : `{${labels}}`}`);
}

/** Reads the counters from etcd's Prometheus endpoint (`<clientUrl>/metrics`). */
export async function readCounters(clientUrl: string): Promise<EtcdCounters> {
  const response = await fetch(`${clientUrl}/metrics`, { signal: AbortSignal.timeout(5_000) });
  if (!response.ok) throw new Error(`etcd /metrics answered HTTP ${response.status}`);
  const text = await response.text();
  return {
    watchers: sample(text, "etcd_debugging_mvcc_watcher_total"),
    watchStreams: sample(text, "etcd_debugging_mvcc_watch_stream_total"),
    leasesGranted: sample(text, "etcd_debugging_lease_granted_total"),
    keepAliveStreams: sample(text, "grpc_server_started_total", 'grpc_method="LeaseKeepAlive"'),
  };
}
