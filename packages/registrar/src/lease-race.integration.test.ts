import { createManualClock } from "@etcd-naming/etcd";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import { describe, expect, it, vi } from "vitest";
import { register } from "./registration.js";

const etcd = useTestEtcd();
const quiet = { warn: () => undefined };

describe("a lease lost while a put under it is in flight", () => {
  it("reports reregistered with the new lease, not the lost one", async () => {
    const client = etcd.client();
    const clock = createManualClock();
    const ttl = 10;
    const service = `${etcd.namespace}/race`;
    const reg = await register({ client, service, addr: "10.0.0.1:80", ttl, clock, logger: quiet });
    const oldLease = reg.leaseId;
    const lost: string[] = [];
    const reregistered: string[] = [];
    reg.on("lost", (e) => lost.push(e.code));
    reg.on("reregistered", (id) => reregistered.push(id));

    // The next transaction is the metadata put: once it is on the wire, let the TTL pass without a
    // keep-alive answer, so the keeper gives the lease up before the put's answer arrives.
    const txn = client.kv.txn.bind(client.kv);
    let armed = true;
    vi.spyOn(client.kv, "txn").mockImplementation((...args) => {
      const pending = txn(...args);
      if (armed) {
        armed = false;
        clock.advance(ttl * 1000);
      }
      return pending;
    });

    await reg.setMetadata("v2");
    await vi.waitFor(() => expect(reregistered).toHaveLength(1), { timeout: 10_000, interval: 20 });
    expect(lost).toEqual(["LEASE_LOST"]);
    expect(reregistered[0]).not.toBe(oldLease);
    expect(reregistered[0]).toBe(reg.leaseId);
    const [kv] = await client
      .getAll()
      .prefix(`${service}/`)
      .exec()
      .then((r) => r.kvs);
    expect(kv?.lease).toBe(reg.leaseId);
    expect(kv?.value.toString()).toContain('"Metadata":"v2"');

    await reg.deregister();
    expect(await client.getAll().prefix(`${service}/`).keys()).toEqual([]);
  }, 30_000);
});
