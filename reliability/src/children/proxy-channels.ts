// A client process for the gRPC proxy suite: `CHANNELS` real grpc-js channels over the services named in
// `SERVICES`, resolved with the `etcd:` resolver through one etcd endpoint (the proxy). Each channel runs
// a policy that only records the addresses the resolver gave it, so the parent can check every channel's
// set without connecting anywhere. Speaks one JSON object per stdout line; reads commands on stdin.
//   argv: <etcd endpoint> <service,service,...> <channels>
//   out:  {type:"ready"} once every service was listed; {type:"update",...} per watcher update;
//         {type:"report",...} per "report" line on stdin.
import { createInterface } from "node:readline";
import { registerEtcdResolver } from "@etcd-naming/grpc-js";
import * as grpc from "@grpc/grpc-js";
import { Etcd3 } from "etcd3";

const [endpoint, serviceList, channelCount] = process.argv.slice(2) as [string, string, string];
const services = serviceList.split(",");
const send = (message: object) => process.stdout.write(`${JSON.stringify(message)}\n`);

// Each channel's last address list, as "host:port" sorted and joined.
const channelSets: { service: string; set: string | undefined }[] = [];
const SLOT_OPTION = "etcd_naming.test.slot";

class RecordingConfig implements grpc.experimental.TypedLoadBalancingConfig {
  getLoadBalancerName(): string {
    return "address_recorder";
  }
  toJsonObject(): object {
    return { address_recorder: {} };
  }
  static createFromJson(): RecordingConfig {
    return new RecordingConfig();
  }
}

class RecordingBalancer implements grpc.experimental.LoadBalancer {
  constructor(private readonly helper: grpc.experimental.ChannelControlHelper) {}
  updateAddressList(
    endpoints: grpc.experimental.StatusOr<grpc.experimental.Endpoint[]>,
    _config: unknown,
    options: grpc.ChannelOptions,
  ): boolean {
    // The channel's own option says which slot it is.
    const slot = channelSets[Number(options[SLOT_OPTION])];
    if (!endpoints.ok || slot === undefined) return false;
    slot.set = endpoints.value
      .flatMap((e) => e.addresses.map((a) => ("host" in a ? `${a.host}:${a.port}` : a.path)))
      .sort()
      .join(",");
    // No subchannels: calls would queue, and none are made.
    this.helper.updateState(grpc.connectivityState.CONNECTING, { pick: () => queued() } as never, null);
    return true;
  }
  exitIdle(): void {}
  resetBackoff(): void {}
  destroy(): void {}
  getTypeName(): string {
    return "address_recorder";
  }
}
const queued = () => ({
  pickResultType: 1, // QUEUE
  subchannel: null,
  status: null,
  onCallStarted: null,
  onCallEnded: null,
});
grpc.experimental.registerLoadBalancerType("address_recorder", RecordingBalancer as never, RecordingConfig);

const client = new Etcd3({ hosts: [endpoint] });
const handle = registerEtcdResolver({
  client,
  protection: false,
  logger: { warn: () => {}, error: () => {} },
});
const errors: string[] = [];
handle.on("update", (update) => {
  send({
    type: "update",
    service: update.service,
    revision: update.revision,
    endpoints: update.endpoints.map((e) => [e.key, e.addr, e.modRevision]),
  });
});
handle.on("stale", (event) => errors.push(`${event.service}: ${event.error.code}`));

const serviceConfig = JSON.stringify({ loadBalancingConfig: [{ address_recorder: {} }] });
const channels: grpc.Channel[] = [];
for (let i = 0; i < Number(channelCount); i++) {
  const service = services[i % services.length]!;
  channelSets.push({ service, set: undefined });
}
for (const [i, slot] of channelSets.entries()) {
  const channel = new grpc.Channel(`etcd:///${slot.service}`, grpc.credentials.createInsecure(), {
    "grpc.service_config": serviceConfig,
    [SLOT_OPTION]: i,
  });
  // Channels resolve lazily: ask each one to connect, which starts its resolver.
  channel.getConnectivityState(true);
  channels.push(channel);
}

const waitListed = async () => {
  while (!services.every((s) => handle.snapshot(s)?.listed === true)) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  send({ type: "ready" });
};
void waitListed();

const commands = createInterface({ input: process.stdin });
// The parent gone (its end of stdin closed) ends this process too: no client outlives a killed run.
commands.on("close", () => process.exit(0));
commands.on("line", (line) => {
  if (line.trim() === "report") {
    const sets: Record<string, Record<string, number>> = {};
    for (const slot of channelSets) {
      const bySet = sets[slot.service] ?? {};
      sets[slot.service] = bySet;
      const key = slot.set ?? "(none)";
      bySet[key] = (bySet[key] ?? 0) + 1;
    }
    send({
      type: "report",
      sets,
      watchedServices: handle.watchedServices,
      stale: services.filter((s) => handle.snapshot(s)?.stale === true),
      errors,
      rssMb: Math.round(process.memoryUsage().rss / 1e6),
    });
  } else if (line.trim() === "exit") {
    for (const channel of channels) channel.close();
    void handle.close().then(() => {
      client.close();
      process.exit(0);
    });
  }
});
