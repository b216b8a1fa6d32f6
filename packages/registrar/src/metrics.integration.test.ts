// The registrar's metrics, read through the OpenTelemetry SDK: the lease held, its keep-alive round
// trips, and a loss and re-registration when the lease is revoked from outside.
import { testMeterProvider } from "@etcd-naming/etcd-fixture/otel";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import { expect, it, vi } from "vitest";
import { register } from "./registration.js";

const etcd = useTestEtcd();
const poll = { timeout: 10_000, interval: 20 };

it("records the lease held, keep-alive round trips, a lease loss and the re-registration", async () => {
  const otel = testMeterProvider();
  try {
    const client = etcd.client();
    const service = `${etcd.namespace}/metrics`;
    // TTL 3: a keep-alive every second.
    const reg = await register({
      client,
      service,
      addr: "10.0.0.1:80",
      ttl: 3,
      meterProvider: otel.meterProvider,
    });
    let seen = await otel.collect();
    expect(seen.value("etcd_naming.registrar.leases")).toBe(1);
    expect(seen.metrics.get("etcd_naming.registrar.leases")?.type).toBe("updowncounter");
    expect(seen.value("etcd_naming.registrar.lease.losses", { service })).toBeUndefined();

    await vi.waitFor(async () => {
      seen = await otel.collect();
      expect(seen.value("etcd_naming.registrar.keepalive.duration")).toBeGreaterThanOrEqual(1);
    }, poll);
    const keepAlive = seen.metrics.get("etcd_naming.registrar.keepalive.duration")!;
    expect(keepAlive.unit).toBe("s");
    // Seconds: a round trip to a local etcd is far below one.
    expect(keepAlive.points[0]!.sum).toBeLessThan(1);

    const reregistered = new Promise<string>((resolve) => reg.on("reregistered", resolve));
    const oldLease = reg.leaseId;
    await client.leaseClient.leaseRevoke({ ID: oldLease });
    expect(await reregistered).not.toBe(oldLease);
    seen = await otel.collect();
    expect(seen.value("etcd_naming.registrar.lease.losses", { service })).toBe(1);
    expect(seen.value("etcd_naming.registrar.reregistrations", { service })).toBe(1);
    expect(seen.value("etcd_naming.registrar.leases")).toBe(1);

    await reg.deregister();
    await vi.waitFor(async () => {
      expect((await otel.collect()).value("etcd_naming.registrar.leases")).toBe(0);
    }, poll);
  } finally {
    await otel.shutdown();
  }
});
