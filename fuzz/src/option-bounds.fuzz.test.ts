// Numeric bounds of every option of the libraries, at and beyond their limits: each value is either
// rejected with the documented error code, or accepted and works — never a silent misbehaviour such as
// a timer Node fires at once because its delay does not fit in 32 bits. Against an etcd of its own, so
// that leases can be counted.
import {
  DEFAULT_MAX_BYTES,
  DEFAULT_MAX_DEPTH,
  decodeEndpoint,
  encodeEndpoint,
  NamingError,
  Operation,
} from "@etcd-naming/codec";
import { type EtcdServer, startEtcd } from "@etcd-naming/etcd-fixture";
import { ResolverError, registerEtcdResolver } from "@etcd-naming/grpc-js";
import { createEndpointManager, RegistrarError, type Registration, register } from "@etcd-naming/registrar";
import { createEtcd3Source, WatcherError, watchService } from "@etcd-naming/watcher";
import * as grpc from "@grpc/grpc-js";
import { Etcd3 } from "etcd3";
import fc from "fast-check";
import { afterAll, beforeAll, it } from "vitest";
import {
  collectWarnings,
  defined,
  EDGE_NUMBERS,
  MAX_TIMER_MS,
  numberArb,
  optionalNumber,
  sleep,
  waitFor,
} from "./bounds.js";
import { type Observation, tappedGrpc } from "./channel-tap.js";
import { bump, type Counts, fuzzFile, type PropertyBudget, testTimeoutFor } from "./fuzz-env.js";

const fuzz = fuzzFile("option-bounds");
const quiet = { warn: () => {}, error: () => {}, info: () => {}, debug: () => {} };
let etcd: EtcdServer;
let admin: Etcd3;
const clients: Etcd3[] = [];
let serviceNo = 0;
const nextService = (label: string) => `bounds/${label}-${++serviceNo}`;
const endpointValue = (addr: string) => JSON.stringify({ Op: 0, Addr: addr, Metadata: null });

beforeAll(async () => {
  etcd = await startEtcd({ name: "fuzz-bounds" });
  admin = new Etcd3({ hosts: etcd.endpoints });
}, 60_000);

afterAll(async () => {
  for (const client of clients.splice(0)) client.close();
  admin?.close();
  await etcd?.close();
});

function client(hosts = etcd.endpoints): Etcd3 {
  const created = new Etcd3({ hosts });
  clients.push(created);
  return created;
}

/** Closes the clients of a finished run: whatever a misbehaving timer keeps doing stops with them. */
function closeClients(): void {
  for (const c of clients.splice(0)) c.close();
}

const show = (value: unknown): string =>
  JSON.stringify(value, (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v));

/** Runs `check` on every config at once and throws all the problems found, each with its config. */
async function all<T>(configs: readonly T[], check: (config: T) => Promise<string[]>): Promise<void> {
  let problems: string[][];
  try {
    problems = await Promise.all(configs.map(async (c) => (await check(c)).map((p) => `${show(c)}: ${p}`)));
  } finally {
    closeClients();
  }
  const flat = problems.flat();
  if (flat.length > 0) throw new Error(flat.join("\n"));
}

function overflowed(warnings: string[]): string[] {
  return warnings
    .filter((w) => w.startsWith("TimeoutOverflowWarning"))
    .slice(0, 1)
    .map((w) => `a timer overflowed (${w})`);
}

// ---------------------------------------------------------------------------------------------------
// watchService: coalesceMs, cancelTimeoutMs, backoff, decode limits

interface WatcherConfig {
  coalesceMs?: number | undefined;
  cancelTimeoutMs?: number | undefined;
  backoff?:
    | { initialDelayMs?: number; maxDelayMs?: number; multiplier?: number; jitter?: number }
    | undefined;
  decode?: { maxBytes?: number; maxDepth?: number } | undefined;
}

const watcherConfigArb: fc.Arbitrary<WatcherConfig> = fc.record(
  {
    coalesceMs: numberArb,
    cancelTimeoutMs: numberArb,
    backoff: fc.record(
      {
        initialDelayMs: numberArb,
        maxDelayMs: numberArb,
        multiplier: numberArb,
        jitter: fc.oneof(numberArb, fc.double({ min: 0, max: 1 })),
      },
      { requiredKeys: [] },
    ),
    decode: fc.record({ maxBytes: numberArb, maxDepth: numberArb }, { requiredKeys: [] }),
  },
  { requiredKeys: [] },
);

/** The most list attempts a backoff allows in `windowMs` (Infinity when it allows a tight loop). */
function maxAttempts(b: Required<NonNullable<WatcherConfig["backoff"]>>, windowMs: number): number {
  let elapsed = 0;
  for (let attempt = 0; attempt < 10_000; attempt++) {
    const least = Math.min(b.maxDelayMs, b.initialDelayMs * b.multiplier ** attempt) * (1 - b.jitter);
    if (!(least > 0)) return Number.POSITIVE_INFINITY;
    elapsed += least;
    if (elapsed > windowMs) return attempt + 2;
  }
  return Number.POSITIVE_INFINITY;
}

const OBSERVE_MS = 1_500;

/** The backoff between failed lists, on a client that can reach nothing. */
async function checkBackoff(config: WatcherConfig, service: string): Promise<string[]> {
  if (config.backoff === undefined) return [];
  const deadSource = createEtcd3Source(client(["127.0.0.1:1"]));
  let dead: ReturnType<typeof watchService>;
  try {
    dead = watchService(deadSource, service, { ...defined(config as object), logger: quiet, shared: false });
  } catch {
    return []; // refused: checkWatcherOn judges how
  }
  await sleep(OBSERVE_MS);
  const lists = deadSource.stats().lists;
  await dead.close();
  const b = {
    initialDelayMs: 200,
    maxDelayMs: 10_000,
    multiplier: 2,
    jitter: 0.5,
    ...defined(config.backoff),
  };
  const allowed = maxAttempts(b, OBSERVE_MS);
  return lists > allowed + 2
    ? [`${lists} list attempts in ${OBSERVE_MS} ms, the backoff allows ${allowed}`]
    : [];
}

async function checkWatcher(config: WatcherConfig): Promise<string[]> {
  const service = nextService("watcher");
  const [own, backoff] = await Promise.all([checkWatcherOn(config, service), checkBackoff(config, service)]);
  return [...own, ...backoff];
}

async function checkWatcherOn(config: WatcherConfig, service: string): Promise<string[]> {
  const source = createEtcd3Source(client());
  let watcher: ReturnType<typeof watchService>;
  try {
    watcher = watchService(source, service, { ...defined(config as object), logger: quiet, shared: false });
  } catch (error) {
    if (error instanceof WatcherError && error.code === "INVALID_OPTIONS") return [];
    return [`threw ${String(error)}, expected a WatcherError INVALID_OPTIONS or acceptance`];
  }
  const problems: string[] = [];
  const coalesceMs = config.coalesceMs ?? 5;
  try {
    if ((await Promise.race([watcher.ready().then(() => true), sleep(5_000).then(() => false)])) === false) {
      problems.push("accepted, but the watcher had not listed after 5 s");
      return problems;
    }
    const value = endpointValue("127.0.0.1:1");
    const updates: number[] = [];
    watcher.on("update", () => updates.push(Date.now()));
    const putAt = Date.now();
    await admin.put(`${service}/a`).value(value);
    const decodes = decodeEndpoint(value, config.decode).ok;
    if (coalesceMs >= OBSERVE_MS + 200) {
      await sleep(OBSERVE_MS);
      if (updates.length > 0) {
        problems.push(
          `accepted coalesceMs ${coalesceMs}, but the update came ${updates[0]! - putAt} ms after the put`,
        );
      }
    } else if (decodes) {
      if (!(await waitFor(() => watcher.snapshot().endpoints.length === 1, coalesceMs + 3_000))) {
        problems.push(`accepted, but the put did not reach the watcher within coalesceMs + 3 s`);
      }
    } else if (!(await waitFor(() => watcher.snapshot().skipped.length === 1, coalesceMs + 3_000))) {
      problems.push(
        "accepted decode limits the value exceeds, but the key was not skipped within coalesceMs + 3 s",
      );
    }
  } finally {
    const closing = Date.now();
    const closed = await Promise.race([watcher.close().then(() => true), sleep(6_000).then(() => false)]);
    if (!closed) problems.push(`close() had not resolved ${Date.now() - closing} ms later`);
  }
  return problems;
}

const W_EXAMPLES: [WatcherConfig[]][] = [
  [[{ coalesceMs: MAX_TIMER_MS + 1 }, { coalesceMs: 1e12 }, { cancelTimeoutMs: 1e12 }]],
  [
    [
      { backoff: { initialDelayMs: MAX_TIMER_MS + 1, maxDelayMs: 1e12 } },
      { backoff: { initialDelayMs: 1, multiplier: 1e6, maxDelayMs: 2 ** 40 } },
    ],
  ],
  [[{ decode: { maxBytes: 0 } }, { decode: { maxDepth: 0, maxBytes: 10 } }, { coalesceMs: 0 }]],
];
const WATCHER: PropertyBudget = { runs: 2, runTimeoutMs: 40_000, examples: W_EXAMPLES };
const watcherCounts: Counts = {};

it("watchService options: rejected with INVALID_OPTIONS or honoured", {
  timeout: testTimeoutFor(WATCHER),
}, async () => {
  const property = fc.asyncProperty(
    fc.array(watcherConfigArb, { minLength: 1, maxLength: 4 }),
    async (configs) => {
      const collected = collectWarnings();
      try {
        await all(configs, checkWatcher);
        bump(watcherCounts, "configs", configs.length);
      } finally {
        await collected.stop();
      }
      const problems = overflowed(collected.warnings);
      if (problems.length > 0) throw new Error(`${show(configs)}: ${problems.join("; ")}`);
    },
  );
  await fuzz.check("watcher options", property, WATCHER, watcherCounts);
});

// ---------------------------------------------------------------------------------------------------
// createEtcd3Source: pageSize, listTimeoutMs, progressIntervalMs, progressTimeoutMs

interface SourceConfig {
  pageSize?: number | undefined;
  listTimeoutMs?: number | undefined;
  progressIntervalMs?: number | undefined;
  progressTimeoutMs?: number | undefined;
}
const sourceConfigArb: fc.Arbitrary<SourceConfig> = fc.record(
  {
    pageSize: numberArb,
    listTimeoutMs: numberArb,
    progressIntervalMs: numberArb,
    progressTimeoutMs: numberArb,
  },
  { requiredKeys: [] },
);
const PREFILLED = 7;

async function checkSource(config: SourceConfig): Promise<string[]> {
  let source: ReturnType<typeof createEtcd3Source>;
  try {
    source = createEtcd3Source(client(), defined(config as object));
  } catch (error) {
    if (error instanceof WatcherError && error.code === "INVALID_OPTIONS") return [];
    return [`threw ${String(error)}, expected a WatcherError INVALID_OPTIONS or acceptance`];
  }
  const service = nextService("source");
  await Promise.all(
    Array.from({ length: PREFILLED }, (_, i) =>
      admin.put(`${service}/k${i}`).value(endpointValue(`127.0.0.1:${i + 1}`)),
    ),
  );
  const problems: string[] = [];
  const errors: string[] = [];
  const watcher = watchService(source, service, { logger: quiet, coalesceMs: 0, shared: false });
  watcher.on("error", (error) => errors.push(`${error.code}: ${error.message}`));
  try {
    // Deadlines this short may legitimately never be met (the member cannot answer in time); longer ones must be.
    const tight = (config.listTimeoutMs ?? 10_000) < 2_000 || (config.progressTimeoutMs ?? 3_000) < 2_000;
    if (!(await waitFor(() => watcher.snapshot().listed, 5_000))) {
      if (tight) return [];
      return [`accepted, but the watcher had not listed after 5 s (${errors[0] ?? "no error"})`];
    }
    if (watcher.snapshot().endpoints.length !== PREFILLED) {
      problems.push(`listed ${watcher.snapshot().endpoints.length} of ${PREFILLED} keys`);
    }
    if (tight) return problems;
    await admin.put(`${service}/late`).value(endpointValue("127.0.0.1:9"));
    if (!(await waitFor(() => watcher.snapshot().endpoints.length === PREFILLED + 1, 3_000))) {
      problems.push(`a put did not reach the watcher within 3 s (${errors[0] ?? "no error"})`);
    }
    // A quiet watch must stay one stream: a liveness timer firing early would fail it over and over.
    await sleep(OBSERVE_MS);
    const opened = source.stats().watchesOpened;
    if (opened > 1)
      problems.push(
        `${opened} watch streams opened in ${OBSERVE_MS} ms on a healthy etcd (${errors[0] ?? ""})`,
      );
  } finally {
    await watcher.close();
  }
  return problems;
}

const S_EXAMPLES: [SourceConfig[]][] = [
  [
    [
      { progressTimeoutMs: MAX_TIMER_MS + 1 },
      { progressIntervalMs: MAX_TIMER_MS + 1 },
      { listTimeoutMs: 1e300 },
    ],
  ],
  [[{ pageSize: 1 }, { pageSize: 0.5 }, { pageSize: 2 ** 63 }, { pageSize: 1e300 }]],
];
const SOURCE: PropertyBudget = { runs: 2, runTimeoutMs: 40_000, examples: S_EXAMPLES };
const sourceCounts: Counts = {};

it("createEtcd3Source options: rejected with INVALID_OPTIONS or honoured", {
  timeout: testTimeoutFor(SOURCE),
}, async () => {
  const property = fc.asyncProperty(
    fc.array(sourceConfigArb, { minLength: 1, maxLength: 4 }),
    async (configs) => {
      const collected = collectWarnings();
      try {
        await all(configs, checkSource);
        bump(sourceCounts, "configs", configs.length);
      } finally {
        await collected.stop();
      }
      const problems = overflowed(collected.warnings);
      if (problems.length > 0) throw new Error(`${show(configs)}: ${problems.join("; ")}`);
    },
  );
  await fuzz.check("source options", property, SOURCE, sourceCounts);
});

// ---------------------------------------------------------------------------------------------------
// registerEtcdResolver: minUpdateIntervalMs, maxUpdateIntervalMs, coalesceMs

interface ResolverConfig {
  minUpdateIntervalMs?: number | undefined;
  maxUpdateIntervalMs?: number | undefined;
  coalesceMs?: number | undefined;
}
const resolverConfigArb: fc.Arbitrary<ResolverConfig> = fc.record(
  { minUpdateIntervalMs: numberArb, maxUpdateIntervalMs: numberArb, coalesceMs: numberArb },
  { requiredKeys: [] },
);
let schemeNo = 0;

async function checkResolver(config: ResolverConfig): Promise<string[]> {
  const tap = tappedGrpc();
  const scheme = `fuzz-bounds${++schemeNo}`;
  let handle: { close(): Promise<void> };
  try {
    handle = registerEtcdResolver({
      client: client(),
      scheme,
      grpc: tap.grpc,
      logger: quiet,
      ...defined(config as object),
    });
  } catch (error) {
    if (error instanceof ResolverError && error.code === "INVALID_OPTIONS") return [];
    return [`threw ${String(error)}, expected a ResolverError INVALID_OPTIONS or acceptance`];
  }
  const service = nextService("resolver");
  await admin.put(`${service}/a`).value(endpointValue("127.0.0.1:1"));
  const channel = new grpc.Client(`${scheme}:///${service}`, grpc.credentials.createInsecure());
  channel.getChannel().getConnectivityState(true);
  const problems: string[] = [];
  const observed = (): Observation => tap.observe(service);
  try {
    if (!(await waitFor(() => observed().kind === "endpoints", 5_000))) {
      return [
        "accepted, but the channel had no endpoints 5 s after the first put (the first update is never delayed)",
      ];
    }
    const first = observed().history.at(-1)!.at;
    await admin.put(`${service}/b`).value(endpointValue("127.0.0.1:2"));
    // Updates are spaced by minUpdateIntervalMs; the coalescing window is the watcher's, and grpc-js's own
    // re-resolution requests are answered from the shared watch without it, so only timers judge it.
    const spacing = config.minUpdateIntervalMs ?? 100;
    const arrived = await waitFor(
      () => observed().addresses.length === 2,
      Math.min(spacing, OBSERVE_MS) + 3_000,
    );
    const second = observed().history.at(-1)!.at;
    if (arrived && second - first < Math.min(spacing, OBSERVE_MS) - 20) {
      problems.push(
        `accepted a spacing of ${spacing} ms, but the second update came ${second - first} ms after the first`,
      );
    }
    if (!arrived && spacing < OBSERVE_MS)
      problems.push(`the second endpoint had not reached the channel ${spacing + 3_000} ms later`);
  } finally {
    channel.close();
    await handle.close();
  }
  return problems;
}

const R_EXAMPLES: [ResolverConfig[]][] = [
  [
    [
      { minUpdateIntervalMs: MAX_TIMER_MS + 1, maxUpdateIntervalMs: 2 ** 40 },
      { coalesceMs: MAX_TIMER_MS + 1 },
      { minUpdateIntervalMs: 0, maxUpdateIntervalMs: 0 },
    ],
  ],
];
const RESOLVER: PropertyBudget = { runs: 2, runTimeoutMs: 40_000, examples: R_EXAMPLES };
const resolverCounts: Counts = {};

it("registerEtcdResolver options: rejected with INVALID_OPTIONS or honoured", {
  timeout: testTimeoutFor(RESOLVER),
}, async () => {
  const property = fc.asyncProperty(
    fc.array(resolverConfigArb, { minLength: 1, maxLength: 3 }),
    async (configs) => {
      const collected = collectWarnings();
      try {
        await all(configs, checkResolver);
        bump(resolverCounts, "configs", configs.length);
      } finally {
        await collected.stop();
      }
      const problems = overflowed(collected.warnings);
      if (problems.length > 0) throw new Error(`${show(configs)}: ${problems.join("; ")}`);
    },
  );
  await fuzz.check("resolver options", property, RESOLVER, resolverCounts);
});

// ---------------------------------------------------------------------------------------------------
// register(): ttl and backoff

interface RegisterConfig {
  ttl?: number | undefined;
  backoff?: { initialMs?: number; maxMs?: number; multiplier?: number } | undefined;
}
const ttlArb = fc.oneof(
  { weight: 3, arbitrary: numberArb },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      2,
      3,
      10,
      2_147_483,
      2_147_484,
      6_442_450,
      6_442_451,
      9_000_000_000,
      9_000_000_001,
    ),
  },
  { weight: 1, arbitrary: fc.integer({ min: 2, max: 9_000_000_000 }) },
);
const registerConfigArb: fc.Arbitrary<RegisterConfig> = fc.record(
  {
    ttl: ttlArb,
    backoff: fc.record(
      { initialMs: numberArb, maxMs: numberArb, multiplier: numberArb },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: ["ttl"] },
);

async function leaseIds(): Promise<string[]> {
  return (await admin.leaseClient.leaseLeases({})).leases.map((l) => String(l.ID));
}

/** The leases in `after` that were not in `before`, with their granted TTLs. */
async function newLeases(before: string[], after: string[]): Promise<string[]> {
  const fresh = after.filter((id) => !before.includes(id));
  return Promise.all(
    fresh.map(async (id) => {
      const ttl = await admin.leaseClient.leaseTimeToLive({ ID: id, keys: true });
      return `${id} (granted TTL ${ttl.grantedTTL}, keys ${ttl.keys.map(String).join(",") || "none"})`;
    }),
  );
}

/** The configs register() accepted, to tell a lease left behind by an earlier run. */
const accepted = new WeakSet<RegisterConfig>();

async function checkRegister(config: RegisterConfig): Promise<string[]> {
  const service = nextService("register");
  const key = `${service}/127.0.0.1:1`;
  const events: string[] = [];
  let registration: Registration;
  try {
    registration = await register({
      client: client(),
      service,
      addr: "127.0.0.1:1",
      logger: quiet,
      ...defined(config as object),
    });
  } catch (error) {
    const written = (await admin.get(key).string()) !== null;
    if (error instanceof RegistrarError && error.code === "INVALID_INPUT") {
      return written ? ["rejected with INVALID_INPUT, but the key was written"] : [];
    }
    return [
      `rejected with ${error instanceof RegistrarError ? error.code : "a non-RegistrarError"}: ${(error as Error).message}`,
    ];
  }
  accepted.add(config);
  const problems: string[] = [];
  registration.on("lost", (e) => events.push(`lost: ${e.message}`));
  registration.on("reregistered", (lease) => events.push(`reregistered ${lease}`));
  registration.on("error", (e) => events.push(`error: ${e.message}`));
  const lease = registration.leaseId;
  try {
    await sleep(2_500);
    if (events.length > 0)
      problems.push(`${events.length} events in 2.5 s on a healthy etcd, first: ${events[0]}`);
    if (registration.leaseId !== lease)
      problems.push(`the lease changed from ${lease} to ${registration.leaseId}`);
    const stored = await admin.get(key).exec();
    const kv = stored.kvs[0];
    if (kv === undefined) problems.push("the key is not in etcd");
    else if (String(kv.lease) !== registration.leaseId)
      problems.push(`the key is on lease ${kv.lease}, not ${registration.leaseId}`);
    const ttl = await admin.leaseClient.leaseTimeToLive({ ID: registration.leaseId });
    if (Number(ttl.grantedTTL) !== config.ttl)
      problems.push(`etcd granted a TTL of ${ttl.grantedTTL}, asked ${config.ttl}`);
  } finally {
    await registration.deregister();
  }
  if ((await admin.get(key).string()) !== null) problems.push("the key outlived deregister()");
  const left = await admin.leaseClient.leaseTimeToLive({ ID: lease });
  if (Number(left.TTL) > 0) problems.push(`lease ${lease} outlived deregister() (TTL ${left.TTL})`);
  return problems;
}

const REG_EXAMPLES: [RegisterConfig[]][] = [
  [[{ ttl: 2 }, { ttl: 2_147_484 }, { ttl: 6_442_451 }, { ttl: 9_000_000_000 }]],
  [
    [
      { ttl: 1 },
      { ttl: 9_000_000_001 },
      { ttl: Number.NaN },
      { ttl: 2, backoff: { initialMs: Number.NaN, maxMs: -1, multiplier: 0 } },
    ],
  ],
];
const REGISTER: PropertyBudget = { runs: 1, runTimeoutMs: 60_000, examples: REG_EXAMPLES };
const registerCounts: Counts = {};
let previous: { configs: RegisterConfig[]; leases: string[] } | undefined;

it("register() ttl and backoff: rejected with INVALID_INPUT or honoured", {
  timeout: testTimeoutFor(REGISTER),
}, async () => {
  const property = fc.asyncProperty(
    fc.array(registerConfigArb, { minLength: 1, maxLength: 4 }),
    async (configs) => {
      const before = await leaseIds();
      // A lease granted after the previous run ended belongs to that run's registrations.
      if (previous !== undefined) {
        const late = await newLeases(previous.leases, before);
        const configsBefore = previous.configs;
        previous = undefined;
        if (late.length > 0) {
          throw new Error(
            `after the run with ${show(configsBefore)} ended, leases appeared: ${late.join("; ")}`,
          );
        }
      }
      const collected = collectWarnings();
      try {
        await all(configs, checkRegister);
        bump(registerCounts, "configs", configs.length);
      } finally {
        await collected.stop();
      }
      const problems = overflowed(collected.warnings);
      await sleep(1_000); // a grant in flight when the clients closed lands meanwhile
      const after = await leaseIds();
      previous = { configs, leases: after };
      const left = await newLeases(before, after);
      if (left.length > 0) {
        const none = configs.every((c) => !accepted.has(c));
        problems.push(
          `leases left behind: ${left.join("; ")}` +
            (none
              ? " (this run registered nothing: they come from an earlier registration with that TTL)"
              : ""),
        );
      }
      if (problems.length > 0) throw new Error(`${show(configs)}: ${problems.join("; ")}`);
    },
  );
  await fuzz.check("register options", property, REGISTER, registerCounts);
});

// ---------------------------------------------------------------------------------------------------
// createEndpointManager: lease ids, maxTxnOps, and what etcd refuses

const MAX_LEASE_ID = 2n ** 63n - 1n;
const leaseTextArb: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    "@granted",
    "0",
    "1",
    String(MAX_LEASE_ID),
    String(MAX_LEASE_ID + 1n),
    String(2n ** 64n - 1n),
    String(2n ** 64n),
    "99999999999999999999",
    "-1",
    "1.5",
    "0x10",
    " 1",
    "",
    "\uff11",
    "1e3",
    "00000000000000000001",
  ),
  fc.bigInt({ min: 0n, max: 2n ** 70n }).map(String),
);

interface ManagerCase {
  lease: string;
  maxTxnOps: number | undefined;
  adds: number;
  split: boolean;
  trouble: "none" | "duplicate-key" | "too-large";
}
const managerCaseArb: fc.Arbitrary<ManagerCase> = fc.record({
  lease: leaseTextArb,
  maxTxnOps: fc.option(fc.oneof(fc.constantFrom(1, 2, 128, 129, 1000, 2 ** 31), numberArb), {
    nil: undefined,
  }),
  adds: fc.oneof(fc.constantFrom(1, 2, 128, 129, 130), fc.integer({ min: 1, max: 140 })),
  split: fc.boolean(),
  trouble: fc.constantFrom("none", "none", "duplicate-key", "too-large"),
});

const inLeaseRange = (text: string) =>
  /^\d+$/.test(text) && BigInt(text) >= 1n && BigInt(text) <= MAX_LEASE_ID;

async function checkManager(c: ManagerCase): Promise<string[]> {
  const service = nextService("manager");
  let manager: ReturnType<typeof createEndpointManager>;
  try {
    manager = createEndpointManager(admin, service, defined({ maxTxnOps: c.maxTxnOps, logger: quiet }));
  } catch (error) {
    if (error instanceof RegistrarError && error.code === "INVALID_INPUT") {
      const max = c.maxTxnOps ?? 128;
      return Number.isInteger(max) && max >= 1 && max <= 128
        ? [`rejected maxTxnOps ${max}, which etcd allows`]
        : [];
    }
    return [`createEndpointManager threw ${String(error)}`];
  }
  const problems: string[] = [];
  // The lease of an add: one granted now, or a number that is probably no lease at all.
  const granted =
    c.lease === "@granted" ? String(await admin.lease(30, { autoKeepAlive: false }).grant()) : undefined;
  const lease = granted ?? c.lease;
  const key = `${service}/lease`;
  try {
    await manager.addEndpoint(key, { addr: "127.0.0.1:1" }, { lease });
    const kv = (await admin.get(key).exec()).kvs[0];
    const stored = kv === undefined ? "nothing" : String(kv.lease);
    if (granted !== undefined || lease === "0") {
      if (stored !== (granted ?? "0")) problems.push(`lease ${lease}: the key is on lease ${stored}`);
    } else {
      problems.push(
        `lease ${JSON.stringify(lease)} (${inLeaseRange(lease) ? "no such lease" : "not a lease id"}) was accepted; the key is on lease ${stored}`,
      );
    }
  } catch (error) {
    const code = error instanceof RegistrarError ? error.code : "not a RegistrarError";
    const written = (await admin.get(key).string()) !== null;
    if (written) problems.push(`lease ${JSON.stringify(lease)}: rejected (${code}) but written`);
    if (granted !== undefined || lease === "0")
      problems.push(`a valid lease ${lease} was rejected: ${code} ${(error as Error).message}`);
    else if (inLeaseRange(lease)) {
      // etcd answered: the lease does not exist. That is not "etcd unavailable".
      if (
        code === "ETCD_UNAVAILABLE" ||
        code === "INVALID_INPUT" ||
        !/lease not found/.test((error as Error).message)
      ) {
        problems.push(
          `lease ${lease} that etcd does not know: ${code} "${(error as Error).message}", expected its own code with etcd's reason`,
        );
      }
    } else if (code !== "INVALID_INPUT") {
      problems.push(`lease ${JSON.stringify(lease)} is not a lease id: ${code}, expected INVALID_INPUT`);
    }
  }
  // Many adds in one update: TXN_TOO_LARGE above maxTxnOps without split; etcd's own limit is 128.
  const max = c.maxTxnOps ?? 128;
  const metadata = c.trouble === "too-large" ? "m".repeat(60_000) : undefined;
  // A duplicate key needs two updates (the last repeats the first's key); one is no duplicate at all.
  const count =
    c.trouble === "too-large"
      ? Math.max(c.adds, 28)
      : c.trouble === "duplicate-key"
        ? Math.max(c.adds, 2)
        : c.adds;
  const updates = Array.from({ length: count }, (_, i) => ({
    op: Operation.Add,
    key: c.trouble === "duplicate-key" && i === count - 1 ? `${service}/k0` : `${service}/k${i}`,
    endpoint:
      metadata === undefined ? { addr: `127.0.0.${1 + (i % 250)}:1` } : { addr: "127.0.0.1:1", metadata },
  }));
  const chunkLimit = c.split ? Math.min(max, count) : count;
  try {
    await manager.update(updates, { split: c.split });
    if (count > max && !c.split)
      problems.push(`${count} updates above maxTxnOps ${max} without split were applied`);
    if (chunkLimit > 128)
      problems.push(`a transaction of ${chunkLimit} operations, above etcd's 128, reported success`);
    if (c.trouble === "duplicate-key" && !c.split)
      problems.push("a transaction with a duplicate key reported success");
  } catch (error) {
    const code = error instanceof RegistrarError ? error.code : "not a RegistrarError";
    const message = (error as Error).message;
    if (count > max && !c.split) {
      if (code !== "TXN_TOO_LARGE")
        problems.push(`${count} updates above maxTxnOps ${max}: ${code}, expected TXN_TOO_LARGE`);
    } else if (code === "ETCD_UNAVAILABLE" || code === "not a RegistrarError") {
      // etcd answered (too many operations, duplicate key, request too large): its own code and reason.
      problems.push(`etcd refused the transaction (${message}) and it was reported as ${code}`);
    } else if (!/too many operations|duplicate key|too large|larger than max/.test(message)) {
      problems.push(`${code}: "${message}" does not give etcd's reason`);
    }
  }
  return problems;
}

const M_EXAMPLES: [ManagerCase][] = [
  [{ lease: String(2n ** 64n), maxTxnOps: undefined, adds: 1, split: false, trouble: "none" }],
  [{ lease: "12345", maxTxnOps: undefined, adds: 2, split: false, trouble: "duplicate-key" }],
  [{ lease: "@granted", maxTxnOps: 1000, adds: 129, split: false, trouble: "none" }],
  [{ lease: "@granted", maxTxnOps: undefined, adds: 28, split: false, trouble: "too-large" }],
];
const MANAGER: PropertyBudget = { runs: 20, runTimeoutMs: 30_000, examples: M_EXAMPLES };
const managerCounts: Counts = {};

it("createEndpointManager: lease ids, maxTxnOps and etcd's refusals get their documented codes", {
  timeout: testTimeoutFor(MANAGER),
}, async () => {
  const property = fc.asyncProperty(managerCaseArb, async (c) => {
    const problems = await checkManager(c);
    bump(managerCounts, "cases");
    if (problems.length > 0) throw new Error(problems.join("\n"));
  });
  await fuzz.check("endpoint manager bounds", property, MANAGER, managerCounts);
});

// ---------------------------------------------------------------------------------------------------
// The codec: maxBytes and maxDepth

const validLimit = (v: number | undefined) =>
  v === undefined || v === Number.POSITIVE_INFINITY || (Number.isInteger(v) && v >= 0);
const CODEC: PropertyBudget = { runs: 300, runTimeoutMs: 5_000 };
const codecCounts: Counts = {};

it("codec limits: RangeError for a bad limit, otherwise exactly the limit", {
  timeout: testTimeoutFor(CODEC),
}, async () => {
  const property = fc.asyncProperty(
    optionalNumber,
    optionalNumber,
    fc.integer({ min: 0, max: 40 }),
    fc.integer({ min: 0, max: 200 }),
    async (maxBytes, maxDepth, depth, padding) => {
      bump(codecCounts, "cases");
      const metadata = `${"[".repeat(depth)}"${"p".repeat(padding)}"${"]".repeat(depth)}`;
      const value = `{"Op":0,"Addr":"127.0.0.1:1","Metadata":${metadata}}`;
      const options = defined({ maxBytes, maxDepth });
      const valid = validLimit(maxBytes) && validLimit(maxDepth);
      let result: ReturnType<typeof decodeEndpoint>;
      try {
        result = decodeEndpoint(value, options);
      } catch (error) {
        if (valid || !(error instanceof RangeError))
          throw new Error(`decodeEndpoint(${show(options)}) threw ${String(error)}`);
        return;
      }
      if (!valid) throw new Error(`decodeEndpoint accepted the limits ${show(options)}`);
      const size = Buffer.byteLength(value);
      const bytesLimit = maxBytes ?? DEFAULT_MAX_BYTES;
      const depthLimit = maxDepth ?? DEFAULT_MAX_DEPTH;
      const expected = size > bytesLimit ? "VALUE_TOO_LARGE" : depth > depthLimit ? "INVALID_METADATA" : "ok";
      const got = result.ok ? "ok" : result.error.code;
      if (got !== expected)
        throw new Error(
          `${size} bytes at depth ${depth} with ${show(options)}: ${got}, expected ${expected}`,
        );
      try {
        encodeEndpoint({ addr: "127.0.0.1:1", metadata: JSON.parse(metadata) }, options);
        if (expected !== "ok")
          throw new Error(`encodeEndpoint wrote what decodeEndpoint refuses (${expected})`);
      } catch (error) {
        if (!(error instanceof NamingError) || expected === "ok") throw error;
      }
    },
  );
  const examples = EDGE_NUMBERS.map((n) => [n, n, 3, 10] as [number, number, number, number]);
  await fuzz.check("codec limits", property, { ...CODEC, examples }, codecCounts);
});
