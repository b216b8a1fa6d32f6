// The watch paths the experiment compares, each a way for this process to learn of a put under a prefix.
// Every one timestamps (process.hrtime.bigint()) on entry to the first callback that carries the event,
// before any parsing of the value, as the bench's scenario 10 does for the raw etcd3 watch.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { registerEtcdResolver } from "@etcd-naming/grpc-js";
import { createEtcd3Source, type NamingSource, watchService } from "@etcd-naming/watcher";
import * as grpc from "@grpc/grpc-js";
import { Etcd3, type IOptions, Range } from "etcd3";
import { now, quietLogger } from "../../support.js";
import { openH2Watch } from "./h2.js";
import { openNetWatch } from "./net-h2.js";
import { decodeWatchResponse, encodeCreateRequest } from "./wire.js";

/** Where a variant reports what it saw: `variant` saw the address `addr` at `at`. */
export type RecordSighting = (variant: string, addr: string, at: bigint) => void;

export interface VariantContext {
  /** host:port of the etcd member. */
  readonly endpoint: string;
  /** The service; puts go to keys under `${service}/`. */
  readonly service: string;
  /** All etcd3-based variants on one client (one connection, as in scenario 10) instead of one each. */
  readonly sharedClient: boolean;
  readonly record: RecordSighting;
}

/** Closes what a variant opened. */
export type Close = () => Promise<void>;

type Opener = (context: VariantContext, name: string, options: grpc.ChannelOptions) => Promise<Close>;

/**
 * Channel options a variant name may add with `+` (e.g. `grpc-hand+nochannelz+keepalive`). grpc-js
 * already turns Nagle off (`setNoDelay()` on every connection, no option needed) and lifts
 * `grpc-node.max_session_memory` to unlimited by default: `sessionmemory` sets a small limit to compare.
 */
const OPTION_SETS: Readonly<{ [name: string]: grpc.ChannelOptions }> = {
  nochannelz: { "grpc.enable_channelz": 0 },
  keepalive: {
    "grpc.keepalive_time_ms": 10_000,
    "grpc.keepalive_timeout_ms": 5_000,
    "grpc.keepalive_permit_without_calls": 1,
  },
  sessionmemory: { "grpc-node.max_session_memory": 1_000 },
  noretry: { "grpc.enable_retries": 0 },
};

/** Every variant gets a connection of its own unless it shares etcd3's client. */
const OWN_CONNECTION: grpc.ChannelOptions = { "grpc.use_local_subchannel_pool": 1 };

const addrOf = (value: Buffer | Uint8Array | string): string =>
  (JSON.parse(typeof value === "string" ? value : Buffer.from(value).toString()) as { Addr: string }).Addr;

const prefixOf = (service: string) => Buffer.from(`${service}/`);
const prefixRangeEnd = (prefix: Buffer): Buffer => Range.prefix(prefix).end;

let sharedClient: Etcd3 | undefined;

function etcd3Client(context: VariantContext, options: grpc.ChannelOptions): Etcd3 {
  if (context.sharedClient) {
    sharedClient ??= new Etcd3({ hosts: [context.endpoint] });
    return sharedClient;
  }
  const grpcOptions = { ...OWN_CONNECTION, ...options } as IOptions["grpcOptions"];
  return new Etcd3({ hosts: [context.endpoint], ...(grpcOptions ? { grpcOptions } : {}) });
}

function closeClient(context: VariantContext, client: Etcd3): void {
  if (!context.sharedClient) client.close();
}

/** The raw etcd3 watch, as in the bench's scenarios: `client.watch().prefix().create()`, 'put' events. */
const rawEtcd3: Opener = async (context, name, options) => {
  const client = etcd3Client(context, options);
  const watcher = await client.watch().prefix(`${context.service}/`).create();
  watcher.on("put", (kv) => {
    const at = now();
    context.record(name, addrOf(kv.value), at);
  });
  return async () => {
    await watcher.cancel();
    closeClient(context, client);
  };
};

interface RawWatchStream {
  write(message: unknown): boolean;
  cancel(): void;
  on(event: "data", listener: (response: never) => void): RawWatchStream;
  on(event: "error", listener: (error: Error) => void): RawWatchStream;
}

/** etcd3's own protos, loaded the way etcd3 loads them, with the @grpc/proto-loader etcd3 depends on. */
function etcd3WatchClientClass(): new (
  address: string,
  credentials: grpc.ChannelCredentials,
  options: grpc.ChannelOptions,
) => grpc.Client & { watch(): RawWatchStream } {
  const require = createRequire(import.meta.url);
  const etcd3Dir = dirname(require.resolve("etcd3/package.json"));
  type PackageDefinition = Parameters<typeof grpc.loadPackageDefinition>[0];
  const loader = createRequire(join(etcd3Dir, "package.json"))("@grpc/proto-loader") as {
    loadSync(file: string, options: object): PackageDefinition;
  };
  const definition = loader.loadSync(join(etcd3Dir, "proto", "rpc.proto"), {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const root = grpc.loadPackageDefinition(definition) as unknown as {
    etcdserverpb: { Watch: ReturnType<typeof etcd3WatchClientClass> };
  };
  return root.etcdserverpb.Watch;
}

/** A bare grpc-js bidi Watch stream on a channel of its own, decoded by etcd3's protos (protobufjs). */
const grpcLoader: Opener = async (context, name, options) => {
  const Watch = etcd3WatchClientClass();
  const client = new Watch(context.endpoint, grpc.credentials.createInsecure(), {
    ...OWN_CONNECTION,
    ...options,
  });
  const stream = client.watch();
  const created = Promise.withResolvers<void>();
  stream.on("error", (error) => {
    if (!/Cancelled/.test(error.message)) console.error(`[${name}] ${error.message}`);
    created.reject(error);
  });
  stream.on("data", (response: { created: boolean; events: { type: string; kv: { value: Buffer } }[] }) => {
    if (response.created) created.resolve();
    for (const event of response.events) {
      if (event.type !== "PUT" && event.type !== "Put") continue;
      const at = now();
      context.record(name, addrOf(event.kv.value), at);
    }
  });
  const key = prefixOf(context.service);
  stream.write({ create_request: { key, range_end: prefixRangeEnd(key), progress_notify: true } });
  await created.promise;
  return async () => {
    stream.cancel();
    client.close();
  };
};

/** The same bare stream with the hand-written decoder of wire.ts instead of protobufjs. */
const grpcHand: Opener = async (context, name, options) => {
  const client = new grpc.Client(context.endpoint, grpc.credentials.createInsecure(), {
    ...OWN_CONNECTION,
    ...options,
  });
  const stream = client.makeBidiStreamRequest(
    "/etcdserverpb.Watch/Watch",
    (message: Buffer) => message,
    decodeWatchResponse,
  );
  const created = Promise.withResolvers<void>();
  stream.on("error", (error: Error) => {
    if (!/Cancelled/.test(error.message)) console.error(`[${name}] ${error.message}`);
    created.reject(error);
  });
  stream.on("data", (response: ReturnType<typeof decodeWatchResponse>) => {
    if (response.created) created.resolve();
    for (const event of response.events) {
      if (event.type !== "put") continue;
      const at = now();
      context.record(name, addrOf(event.value), at);
    }
  });
  const key = prefixOf(context.service);
  stream.write(encodeCreateRequest({ key, rangeEnd: prefixRangeEnd(key), progressNotify: true }));
  await created.promise;
  return async () => {
    stream.cancel();
    client.close();
  };
};

/**
 * The hand-decoded stream on etcd3's own Watch client: the client etcd3's pool hands out for a member
 * (its channel, credentials and auth metadata), asked for the same RPC with our (de)serializers instead of
 * its protobufjs ones. What our source would be with only its decoder replaced.
 */
const etcd3ConnHand: Opener = async (context, name, options) => {
  const client = etcd3Client(context, options);
  type Pool = {
    withConnection<T>(
      service: string,
      fn: (args: { client: grpc.Client; metadata: grpc.Metadata }) => T | Promise<T>,
    ): Promise<T>;
  };
  const pool = (client as unknown as { pool: Pool }).pool;
  const stream = await pool.withConnection("Watch", ({ client: watchClient, metadata }) =>
    watchClient.makeBidiStreamRequest(
      "/etcdserverpb.Watch/Watch",
      (message: Buffer) => message,
      decodeWatchResponse,
      metadata,
      {},
    ),
  );
  const created = Promise.withResolvers<void>();
  stream.on("error", (error: Error) => {
    if (!/Cancelled/.test(error.message)) console.error(`[${name}] ${error.message}`);
    created.reject(error);
  });
  stream.on("data", (response: ReturnType<typeof decodeWatchResponse>) => {
    if (response.created) created.resolve();
    for (const event of response.events) {
      if (event.type !== "put") continue;
      const at = now();
      context.record(name, addrOf(event.value), at);
    }
  });
  const key = prefixOf(context.service);
  stream.write(encodeCreateRequest({ key, rangeEnd: prefixRangeEnd(key), progressNotify: true }));
  await created.promise;
  return async () => {
    stream.cancel();
    closeClient(context, client);
  };
};

/**
 * A source that records when each put reaches the watcher core (`${name}.events`, on entry to onEvents)
 * and when the core's synchronous handling of it returned (`${name}.applied`): the stream's share and the
 * watcher's share of a variant's latency.
 */
function stagedSource(source: NamingSource, name: string, record: RecordSighting): NamingSource {
  return {
    list: (prefix, options) => source.list(prefix, options),
    watch: (prefix, fromRevision, handlers) =>
      source.watch(prefix, fromRevision, {
        ...handlers,
        onEvents: (events) => {
          const at = now();
          handlers.onEvents(events);
          const applied = now();
          for (const event of events) {
            if (event.type !== "put") continue;
            const addr = addrOf(event.value);
            record(`${name}.events`, addr, at);
            record(`${name}.applied`, addr, applied);
          }
        },
      }),
  };
}

/** Our source's own stream (on etcd3's Watch client and connection), without the watcher behind it. */
const source: Opener = async (context, name, options) => {
  const client = etcd3Client(context, options);
  const revision = (await client.get(`${context.service}/`).exec()).header.revision;
  const connected = Promise.withResolvers<void>();
  const cancel = createEtcd3Source(client).watch(`${context.service}/`, String(BigInt(revision) + 1n), {
    onConnected: () => connected.resolve(),
    onEvents: (events) => {
      const at = now();
      for (const event of events) if (event.type === "put") context.record(name, addrOf(event.value), at);
    },
    onCompacted: () => connected.reject(new Error("compacted")),
    onError: (error) => connected.reject(error),
  });
  await connected.promise;
  return async () => {
    await cancel();
    closeClient(context, client);
  };
};

/** `watchService()` with a coalescing window of 0 and its own watch, as in scenario 1. */
const watcher: Opener = async (context, name, options) => {
  const client = etcd3Client(context, options);
  const view = watchService(stagedSource(createEtcd3Source(client), name, context.record), context.service, {
    coalesceMs: 0,
    shared: false,
    logger: quietLogger,
  });
  view.on("update", ({ added, updated }) => {
    const at = now();
    for (const endpoint of [...added, ...updated]) context.record(name, endpoint.addr, at);
  });
  await view.ready();
  return async () => {
    await view.close();
    closeClient(context, client);
  };
};

let schemes = 0;

/**
 * Our resolver driven by grpc-js as in scenario 10 (a listener where a channel would be): `resolver` with
 * its defaults (5 ms window, updates at least 100 ms apart: puts must be further apart than that to be
 * isolated changes), `resolver-zero` with neither (scenario 2's `etcd-zero:`), the same code path for an
 * isolated change.
 */
const resolverWith =
  (spacing: { coalesceMs?: number; minUpdateIntervalMs?: number }): Opener =>
  async (context, name, options) => {
    const client = etcd3Client(context, options);
    const scheme = `etcd-experiment-${++schemes}`;
    const handle = registerEtcdResolver({
      source: stagedSource(createEtcd3Source(client), name, context.record),
      scheme,
      logger: quietLogger,
      ...spacing,
    });
    const listener = (endpoints: { ok: boolean; value?: grpc.experimental.Endpoint[] }) => {
      const at = now();
      for (const endpoint of endpoints.ok ? (endpoints.value ?? []) : []) {
        const address = endpoint.addresses[0] as { host?: string; port?: number } | undefined;
        if (address?.host !== undefined) context.record(name, `${address.host}:${address.port}`, at);
      }
      return true;
    };
    const instance = grpc.experimental.createResolver(
      { scheme, authority: "", path: context.service },
      listener as unknown as grpc.experimental.ResolverListener,
      {},
    );
    instance.updateResolution();
    return async () => {
      instance.destroy();
      await handle.close();
      closeClient(context, client);
    };
  };

const OPENERS: Readonly<{ [base: string]: Opener }> = {
  etcd3: rawEtcd3,
  "grpc-loader": grpcLoader,
  "grpc-hand": grpcHand,
  "etcd3conn-hand": etcd3ConnHand,
  "h2-hand": (context, name) => openH2Watch(context, name),
  "h2-hand-window": (context, name) => openH2Watch(context, name, { window: 2 ** 31 - 1 }),
  "net-hand": (context, name) => openNetWatch(context, name),
  source,
  watcher,
  resolver: resolverWith({}),
  "resolver-zero": resolverWith({ coalesceMs: 0, minUpdateIntervalMs: 0 }),
};

/** The variants this module knows, with the option sets a name may add. */
export const VARIANTS: readonly string[] = Object.keys(OPENERS);
export const OPTIONS: readonly string[] = Object.keys(OPTION_SETS);

/**
 * Opens the variant `name` (a base name, then `+option`s, then an optional `#label` that tells two of the
 * same apart); resolves once its watch is established.
 */
export function openVariant(context: VariantContext, name: string): Promise<Close> {
  const [base, ...extras] = name.split("#")[0]!.split("+");
  const opener = OPENERS[base!];
  if (opener === undefined) throw new Error(`unknown variant ${base}; known: ${VARIANTS.join(", ")}`);
  const options: grpc.ChannelOptions = {};
  for (const extra of extras) {
    const set = OPTION_SETS[extra];
    if (set === undefined) throw new Error(`unknown option set ${extra}; known: ${OPTIONS.join(", ")}`);
    Object.assign(options, set);
  }
  return opener(context, name, options);
}

/** Closes the client the etcd3-based variants share, if any. */
export function closeShared(): void {
  sharedClient?.close();
  sharedClient = undefined;
}
