import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { createEndpointManager } from "./endpoint-manager.js";
import { register } from "./registration.js";

const etcd = useTestEtcd();
const poll = { timeout: 15_000, interval: 20 };

/** A real pino logger writing its JSON lines to memory. */
function pinoToMemory() {
  const text: string[] = [];
  const logger = pino({ level: "debug" }, { write: (line: string) => void text.push(line) });
  const lines = () => text.map((line) => JSON.parse(line) as Record<string, unknown>);
  return { logger, text, lines };
}

describe("pino as the registrar's logger", () => {
  it("gets the loss of a revoked lease and the re-registration as JSON, with the leases in hex, when nobody listens", async () => {
    // A client of its own: registrations on one client and TTL share a lease.
    const client = etcd.client();
    const service = `${etcd.namespace}/pino`;
    const { logger, lines } = pinoToMemory();
    await using reg = await register({ client, service, addr: "10.0.0.1:80", ttl: 3, logger });
    const oldLease = reg.leaseId;
    const oldHex = BigInt(oldLease).toString(16).padStart(16, "0");

    await client.leaseClient.leaseRevoke({ ID: oldLease });
    await expect.poll(() => lines().length, poll).toBe(2);
    expect(reg.leaseId).not.toBe(oldLease);
    const newHex = BigInt(reg.leaseId).toString(16).padStart(16, "0");
    expect(newHex).not.toBe(oldHex);
    expect(lines()).toEqual([
      expect.objectContaining({
        level: 40,
        component: "registrar",
        service,
        key: reg.key,
        lease: oldHex,
        msg: expect.stringMatching(
          new RegExp(`^registration ${reg.key}: lease ${oldHex} was lost( \\(.*\\))?; re-registering$`),
        ),
      }),
      expect.objectContaining({
        level: 30,
        component: "registrar",
        service,
        key: reg.key,
        lease: newHex,
        msg: `registration ${reg.key}: re-registered under lease ${newHex}`,
      }),
    ]);
    // Never the decimal form, which etcdctl does not take.
    expect(JSON.stringify(lines())).not.toContain(oldLease);
  }, 30_000);

  it("gets neither line when the registration listens for them", async () => {
    const client = etcd.client();
    const { logger, lines } = pinoToMemory();
    await using reg = await register({
      client,
      service: `${etcd.namespace}/pino-heard`,
      addr: "10.0.0.2:80",
      ttl: 3,
      logger,
    });
    const heard: string[] = [];
    reg.on("lost", () => heard.push("lost"));
    reg.on("reregistered", () => heard.push("reregistered"));
    await client.leaseClient.leaseRevoke({ ID: reg.leaseId });
    await expect.poll(() => heard, poll).toEqual(["lost", "reregistered"]);
    expect(lines()).toEqual([]);
  }, 30_000);

  it("gets the key of a value it skips, with no password from the key in any field or message", async () => {
    const client = etcd.client();
    const service = `${etcd.namespace}/pino-skip`;
    await client.put(`${service}/root:s3cret@10.0.0.9:80`).value("not json");
    const { logger, text, lines } = pinoToMemory();
    const manager = createEndpointManager(client, service, { logger });
    expect([...(await manager.list()).keys()]).toEqual([]);
    expect(lines()).toEqual([
      expect.objectContaining({
        level: 40,
        component: "registrar",
        service,
        // The whole word before the last "@" is masked, the service's prefix with it.
        key: "***@10.0.0.9:80",
        reason: expect.stringContaining("not valid JSON"),
        msg: expect.stringContaining("skipping ***@10.0.0.9:80"),
      }),
    ]);
    expect(text.join("")).not.toContain("s3cret");
  });
});
