import { type Registration, register, registrarClientOptions } from "@etcd-naming/registrar";
import type { BenchContext, Scenario, ScenarioOutcome } from "../context.js";
import { readCounters } from "../etcd-metrics.js";
import { round } from "../stats.js";
import { elapsedMs, now, sampleAddr, sleep } from "../support.js";

const COUNT = 1_000;
const TTL_SECONDS = 3;

/**
 * 1,000 `register()` calls from one process on one client, started together. The server's own counters
 * say how many leases were granted and keep-alive streams opened while they lived (the wait covers two
 * keep-alive rounds at TTL/3).
 */
export const registration: Scenario = {
  id: 7,
  title: "registration: 1,000 endpoints, one process",
  target: "≤ 1 s; 1 stream",
  async run(context: BenchContext): Promise<ScenarioOutcome> {
    const service = "bench/registration";
    const client = context.newClient(registrarClientOptions());
    const before = await readCounters(context.clientUrl);
    const start = now();
    const registrations: Registration[] = await Promise.all(
      Array.from({ length: COUNT }, (_, i) =>
        register({ client, service, addr: sampleAddr(i, 9000), ttl: TTL_SECONDS }),
      ),
    );
    const registerMs = elapsedMs(start, now());
    let deregisterMs = Number.NaN;
    let streams: number;
    let leases: number;
    let keysAfterDeregister: number;
    try {
      const keys = await context.client.getAll().prefix(`${service}/`).count();
      if (keys !== COUNT) throw new Error(`${keys} keys registered, expected ${COUNT}`);
      // Keep-alives go every TTL/3: wait out two rounds so the stream has been opened and used.
      await sleep(((TTL_SECONDS * 1000) / 3) * 2 + 500);
      const during = await readCounters(context.clientUrl);
      streams = during.keepAliveStreams - before.keepAliveStreams;
      leases = during.leasesGranted - before.leasesGranted;
      const leaseIds = new Set(registrations.map((r) => r.leaseId));
      if (leaseIds.size !== leases) context.log(`7: ${leaseIds.size} lease ids but ${leases} leases granted`);
    } finally {
      const stop = now();
      await Promise.all(registrations.map((r) => r.deregister()));
      deregisterMs = elapsedMs(stop, now());
      keysAfterDeregister = await context.client.getAll().prefix(`${service}/`).count();
    }
    return {
      measured:
        `${round(registerMs)} ms to register all; ${streams} keep-alive stream(s), ${leases} lease(s) granted ` +
        `(deregister all: ${round(deregisterMs)} ms)`,
      pass: registerMs <= 1_000 && streams === 1,
      data: {
        endpoints: COUNT,
        ttlSeconds: TTL_SECONDS,
        registerAllMs: round(registerMs),
        keepAliveStreamsOpened: streams,
        leasesGranted: leases,
        deregisterAllMs: round(deregisterMs),
        keysLeftAfterDeregister: keysAfterDeregister,
      },
      details: [
        `${COUNT} concurrent \`register()\` calls on one client, TTL ${TTL_SECONDS} s. Counted on the server ` +
          '(`etcd_debugging_lease_granted_total`, `grpc_server_started_total{grpc_method="LeaseKeepAlive"}`) ' +
          `across two keep-alive rounds: ${leases} lease(s) granted, ${streams} keep-alive stream(s) opened. ` +
          `Deregistering all took ${round(deregisterMs)} ms and left ${keysAfterDeregister} keys.`,
      ],
    };
  },
};
