import { register, registrarClientOptions } from "@etcd-naming/registrar";
import * as grpc from "@grpc/grpc-js";
import type { BenchContext, Scenario, ScenarioOutcome } from "../context.js";
import { ping } from "../echo-server.js";
import { round, rounded, summarize } from "../stats.js";
import { elapsedMs, now, sleep, within } from "../support.js";

/**
 * A client is waiting on `etcd:///<service>` with a call queued (waitForReady) before the server registers.
 * Measured: from calling `register()` to the call's success, which includes the lease grant and put, the
 * watch event, the resolver update, grpc-js connecting a new subchannel (TCP + HTTP/2) and the RPC itself.
 */
export const firstRpc: Scenario = {
  id: 3,
  title: "register() → first successful RPC through etcd:///",
  target: "≤ 25 ms p50 on loopback",
  async run(context: BenchContext): Promise<ScenarioOutcome> {
    const samples = context.quick ? 10 : 100;
    const warmup = context.quick ? 2 : 10;
    const registrarClient = context.newClient(registrarClientOptions());
    const totalMs: number[] = [];
    const registeredMs: number[] = [];
    context.log(`3: ${samples} samples`);
    for (let i = 0; i < warmup + samples; i++) {
      const service = `bench/first-rpc/s${i}`;
      // A local subchannel pool: otherwise the previous sample's connection to the same server is reused.
      const client = new grpc.Client(`etcd:///${service}`, grpc.credentials.createInsecure(), {
        "grpc.use_local_subchannel_pool": 1,
      });
      try {
        const call = ping(client, 10_000);
        call.catch(() => undefined);
        // Let the channel leave idle and its resolver list the (empty) service first.
        await sleep(20);
        const start = now();
        const registration = await register({
          client: registrarClient,
          service,
          addr: context.echo.addr,
          ttl: 10,
        });
        const registered = now();
        await within(call, 10_000, `sample ${i}'s first RPC`);
        const answered = now();
        if (i >= warmup) {
          registeredMs.push(elapsedMs(start, registered));
          totalMs.push(elapsedMs(start, answered));
        }
        await registration.deregister();
      } finally {
        client.close();
      }
    }
    const total = summarize(totalMs);
    const registered = summarize(registeredMs);
    return {
      measured: `p50 ${round(total.p50)} ms, p99 ${round(total.p99)} ms (register() itself p50 ${round(registered.p50)} ms)`,
      pass: total.p50 <= 25,
      data: { registerToFirstRpcMs: rounded(total), registerResolvedMs: rounded(registered) },
      details: [
        "| ms from register() | n | min | p50 | p90 | p99 | max |",
        "|---|---:|---:|---:|---:|---:|---:|",
        `| first RPC succeeded | ${total.n} | ${round(total.min)} | ${round(total.p50)} | ${round(total.p90)} | ${round(total.p99)} | ${round(total.max)} |`,
        `| register() resolved | ${registered.n} | ${round(registered.min)} | ${round(registered.p50)} | ${round(registered.p90)} | ${round(registered.p99)} | ${round(registered.max)} |`,
      ],
    };
  },
};
