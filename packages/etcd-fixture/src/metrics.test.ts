import { describe, expect, it } from "vitest";
import { parseMetrics } from "./metrics.js";

const page = `# HELP etcd_debugging_mvcc_watcher_total Total number of watchers.
# TYPE etcd_debugging_mvcc_watcher_total gauge
etcd_debugging_mvcc_watcher_total 3
grpc_server_started_total{grpc_method="LeaseKeepAlive",grpc_service="etcdserverpb.Lease",grpc_type="bidi_stream"} 5
grpc_server_started_total{grpc_method="Watch",grpc_service="etcdserverpb.Watch",grpc_type="bidi_stream"} 2
grpc_server_handled_total{grpc_code="OK",grpc_method="LeaseKeepAlive",grpc_service="etcdserverpb.Lease",grpc_type="bidi_stream"} 1
grpc_server_handled_total{grpc_code="Canceled",grpc_method="LeaseKeepAlive",grpc_service="etcdserverpb.Lease",grpc_type="bidi_stream"} 2
odd_total{path="a\\"b\\\\c\\nd",x="1"} 1.5e+06
`;

describe("parseMetrics", () => {
  const metrics = parseMetrics(page);

  it("reads an unlabelled gauge and a labelled series", () => {
    expect(metrics.value("etcd_debugging_mvcc_watcher_total")).toBe(3);
    expect(metrics.value("grpc_server_started_total", { grpc_method: "Watch" })).toBe(2);
  });

  it("sums every matching series and counts open streams as started minus handled", () => {
    expect(metrics.sum("grpc_server_handled_total", { grpc_method: "LeaseKeepAlive" })).toBe(3);
    expect(metrics.sum("grpc_server_started_total")).toBe(7);
    expect(metrics.sum("absent_total")).toBe(0);
    expect(metrics.openStreams("LeaseKeepAlive")).toBe(2);
    expect(metrics.openStreams("Watch")).toBe(2);
  });

  it("unescapes label values and reads exponent notation", () => {
    expect(metrics.samples.find((s) => s.name === "odd_total")).toEqual({
      name: "odd_total",
      labels: { path: 'a"b\\c\nd', x: "1" },
      value: 1_500_000,
    });
  });

  it("names the missing series", () => {
    expect(() => metrics.value("etcd_debugging_mvcc_watcher_total", { x: "1" })).toThrow(
      'etcd /metrics has no etcd_debugging_mvcc_watcher_total{x="1"}',
    );
    expect(() => metrics.value("nope")).toThrow("etcd /metrics has no nope");
  });
});
