// 500 services watched from one process through one registration: a change to one service reaches that
// service's channels and no other, and etcd holds one watcher per service however many channels use it.
// The etcd is the test's own, so its /metrics count only this file's watches.
import { encodeEndpoint } from "@etcd-naming/codec";
import { type EtcdServer, readEtcdMetrics, startEtcd } from "@etcd-naming/etcd-fixture";
import { type GreeterServer, startGreeter } from "@etcd-naming/etcd-fixture/greeter";
import * as grpc from "@grpc/grpc-js";
import { Etcd3 } from "etcd3";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type EtcdResolverHandle, registerEtcdResolver } from "./register.js";

vi.setConfig({ testTimeout: 120_000, hookTimeout: 60_000 });

const SERVICES = 500;
const CHANNELS_PER_SERVICE = 2;
const SCHEME = "etcd-many";
const RECORDER = "many-services-recorder";
// Options under this prefix do not go into grpc-js's subchannel key: the channels still share connections.
const CHANNEL_ID = `${grpc.experimental.SUBCHANNEL_ARGS_EXCLUDE_KEY_PREFIX}.many-services-channel`;

/** Every address list each channel's policy was given, by channel id (`<service index>/<channel>`). */
const received = new Map<string, string[][]>();

class RecorderConfig implements grpc.experimental.TypedLoadBalancingConfig {
  getLoadBalancerName(): string {
    return RECORDER;
  }
  toJsonObject(): object {
    return { [RECORDER]: {} };
  }
  static createFromJson(): RecorderConfig {
    return new RecorderConfig();
  }
}

const roundRobin = grpc.experimental.parseLoadBalancingConfig({ round_robin: {} });

/** round_robin, recording each address list a channel's resolver hands it. */
class Recorder implements grpc.experimental.LoadBalancer {
  readonly #child: grpc.experimental.ChildLoadBalancerHandler;

  constructor(helper: grpc.experimental.ChannelControlHelper) {
    this.#child = new grpc.experimental.ChildLoadBalancerHandler(helper);
  }

  updateAddressList(
    endpoints: grpc.experimental.StatusOr<grpc.experimental.Endpoint[]>,
    _config: grpc.experimental.TypedLoadBalancingConfig,
    options: grpc.ChannelOptions,
    note: string,
  ): boolean {
    const id = String(options[CHANNEL_ID]);
    const list = received.get(id) ?? [];
    list.push(
      endpoints.ok
        ? endpoints.value
            .map((e) => e.addresses.map(grpc.experimental.subchannelAddressToString).join(","))
            .sort()
        : [],
    );
    received.set(id, list);
    return this.#child.updateAddressList(endpoints, roundRobin, options, note);
  }
  exitIdle(): void {
    this.#child.exitIdle();
  }
  resetBackoff(): void {
    this.#child.resetBackoff();
  }
  destroy(): void {
    this.#child.destroy();
  }
  getTypeName(): string {
    return RECORDER;
  }
}

grpc.experimental.registerLoadBalancerType(RECORDER, Recorder, RecorderConfig);

let etcd: EtcdServer;
let client: Etcd3;
let first: GreeterServer;
let second: GreeterServer;
let handle: EtcdResolverHandle | undefined;
const channels = new Map<string, grpc.Client>();
const service = (i: number) => `many/s${i}`;
const channelIds = (i: number) => Array.from({ length: CHANNELS_PER_SERVICE }, (_, c) => `${i}/${c}`);

async function watchCounts() {
  const metrics = await readEtcdMetrics(etcd.clientUrls[0]!);
  return {
    watchers: metrics.value("etcd_debugging_mvcc_watcher_total"),
    streams: metrics.value("etcd_debugging_mvcc_watch_stream_total"),
  };
}

beforeAll(async () => {
  etcd = await startEtcd({ name: "many-services" });
  client = new Etcd3({ hosts: etcd.endpoints });
  [first, second] = await Promise.all([startGreeter("first"), startGreeter("second")]);
  for (let i = 0; i < SERVICES; i += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, SERVICES - i) }, (_, j) =>
        client
          .put(`${service(i + j)}/first`)
          .value(encodeEndpoint({ addr: first.addr }))
          .exec(),
      ),
    );
  }
});

afterAll(async () => {
  for (const channel of channels.values()) channel.close();
  await handle?.close();
  client?.close();
  await Promise.all([first?.close(), second?.close()]);
  await etcd?.close();
});

describe(`${SERVICES} services watched from one process`, () => {
  it("a change to one service reaches only that service's channels, with one etcd watch per service", async () => {
    const before = await watchCounts();
    handle = registerEtcdResolver({ client, scheme: SCHEME });
    const updatedServices: string[] = [];
    handle.on("update", ({ service: name }) => updatedServices.push(name));
    const serviceConfig = JSON.stringify({ loadBalancingConfig: [{ [RECORDER]: {} }] });
    for (let i = 0; i < SERVICES; i++) {
      for (const id of channelIds(i)) {
        const channel = new grpc.Client(`${SCHEME}:///${service(i)}`, grpc.credentials.createInsecure(), {
          "grpc.service_config": serviceConfig,
          [CHANNEL_ID]: id,
        });
        channel.getChannel().getConnectivityState(true);
        channels.set(id, channel);
      }
    }
    const ready = grpc.connectivityState.READY;
    await vi.waitFor(
      () => {
        for (const channel of channels.values())
          expect(channel.getChannel().getConnectivityState(false)).toBe(ready);
      },
      { timeout: 90_000, interval: 100 },
    );
    expect(handle.watchedServices).toBe(SERVICES);
    for (const id of channels.keys()) expect(received.get(id)?.at(-1), id).toEqual([first.addr]);

    // One etcd watcher per service, whatever the number of channels. Each watch is its own gRPC stream
    // (so that a silent member fails one watch over at a time): at most one stream per service.
    const opened = await watchCounts();
    expect(opened.watchers - before.watchers).toBe(SERVICES);
    expect(opened.streams - before.streams).toBeLessThanOrEqual(SERVICES);

    const counts = new Map([...received].map(([id, lists]) => [id, lists.length]));
    updatedServices.length = 0;
    // Two services far apart change, one after the other; every channel of each gets the change.
    const changed = [137, 402];
    for (const i of changed) {
      await client
        .put(`${service(i)}/second`)
        .value(encodeEndpoint({ addr: second.addr }))
        .exec();
      await vi.waitFor(
        () => {
          for (const id of channelIds(i))
            expect(received.get(id)?.at(-1)).toEqual([first.addr, second.addr].sort());
        },
        { timeout: 20_000, interval: 20 },
      );
    }
    // The other services' channels were told nothing, and the changed ones exactly once each.
    for (const [id, lists] of received) {
      const index = Number(id.split("/")[0]);
      const expected = counts.get(id)! + (changed.includes(index) ? 1 : 0);
      expect(lists.length, `updates to channel ${id}`).toBe(expected);
    }
    expect(updatedServices.sort()).toEqual(changed.map(service).sort());
    // No watch was opened or closed by the changes.
    const after = await watchCounts();
    expect(after).toEqual(opened);
  });
});
