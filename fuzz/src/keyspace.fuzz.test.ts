// Arbitrary key bytes and value bytes under a watched prefix: a watcher and a real grpc-js channel on the
// resolver follow the prefix while the fuzzer puts and deletes in it. At every checkpoint both views must
// equal etcd's state read back as bytes (decoded by the codec's rules), an emptied service must fail calls
// with UNAVAILABLE "no endpoints", and nothing may touch Object.prototype.

import { createServer, type Socket } from "node:net";
import { decodeEndpoint } from "@etcd-naming/codec";
import { prefixRangeEnd } from "@etcd-naming/etcd";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import { parseAddress, registerEtcdResolver } from "@etcd-naming/grpc-js";
import { createEtcd3Source, type ServiceSnapshot, watchService } from "@etcd-naming/watcher";
import * as grpc from "@grpc/grpc-js";
import type { Etcd3 } from "etcd3";
import fc from "fast-check";
import { afterAll, beforeAll, it } from "vitest";
import { addressText, callEcho, type Observation, startEcho, tappedGrpc } from "./channel-tap.js";
import { bump, type Counts, fuzzFile, testTimeoutFor } from "./fuzz-env.js";
import { prototypeChanges, snapshotPrototypes } from "./prototypes.js";

const fuzz = fuzzFile("keyspace");
const etcd = useTestEtcd();
const quiet = { warn: () => {}, error: () => {}, info: () => {}, debug: () => {} };
const prototypes = snapshotPrototypes();

let reader: Etcd3;
let writer: Etcd3;
let checker: Etcd3;
let echo: { addr: string; close(): void };
/** A loopback server that accepts connections and never answers: its subchannels stay CONNECTING. */
let tarpit: { addr: string; close(): void };
let handle: { close(): Promise<void> };
let observe: (path: string) => Observation;
const SCHEME = "fuzz-keys";
let runNo = 0;

beforeAll(async () => {
  reader = etcd.client();
  writer = etcd.client();
  checker = etcd.client();
  echo = await startEcho();
  tarpit = await startTarpit();
  const tap = tappedGrpc();
  observe = tap.observe;
  handle = registerEtcdResolver({
    client: reader,
    scheme: SCHEME,
    grpc: tap.grpc,
    logger: quiet,
    // Random deletions often remove most of a service: a short protection hold keeps it in play without
    // spending the run's time budget (and the 15 s convergence deadline) on 10 s holds.
    protection: { holdMs: 1_000 },
  });
});

afterAll(async () => {
  await handle?.close();
  echo?.close();
  tarpit?.close();
});

async function startTarpit(): Promise<{ addr: string; close(): void }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    addr: `127.0.0.1:${port}`,
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// The generated case: a small pool of keys (so puts overwrite and deletes hit) and a sequence of operations.

const bytes = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, "utf8"));
const raw = (...parts: (string | number[])[]): Uint8Array =>
  new Uint8Array(
    Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "utf8") : Buffer.from(p)))),
  );

/** Key suffixes (after `<service>/`) that have broken something somewhere. */
const SPECIAL_KEYS: Uint8Array[] = [
  bytes("__proto__"),
  bytes("constructor"),
  bytes("prototype"),
  bytes("toString"),
  bytes("hasOwnProperty"),
  bytes("__defineGetter__"),
  raw("k-", [0xff]),
  raw("k-", [0xfe]),
  bytes("k-\ufffd"), // what a lossy decode makes of both lines above
  raw([0xc0, 0xaf]), // overlong "/"
  raw([0xed, 0xa0, 0x80]), // an encoded lone surrogate
  raw([0xf4, 0x90, 0x80, 0x80]), // beyond U+10FFFF
  raw("k", [0x00]),
  bytes(""), // the key `<service>/` itself: not an endpoint
  bytes("/"),
  bytes("a/b/c"),
  bytes("../x"),
  bytes(" "),
  bytes("\n"),
  bytes("k".repeat(4096)),
];

const keySuffix: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...SPECIAL_KEYS) },
  { weight: 3, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 24 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 16 }).map(bytes) },
);

/** An address written into a value: `echo` and `tarpit` are replaced by those servers' addresses at run time. */
type AddrChoice = { echo: true } | { tarpit: true } | { text: string };

const loopbackAddr: fc.Arbitrary<string> = fc.oneof(
  fc
    .tuple(fc.nat(255), fc.nat(255), fc.integer({ min: 1, max: 254 }), fc.integer({ min: 1, max: 9 }))
    .map(([a, b, c, port]) => `127.${a}.${b}.${c}:${port}`),
  fc.integer({ min: 1, max: 9 }).map((port) => `[::1]:${port}`),
  fc.integer({ min: 1, max: 9 }).map((port) => `localhost:${port}`),
  fc.constantFrom("127.0.0.1", "::1", "[::ffff:127.0.0.1]:7", "127.0.0.1:7 ", " 127.0.0.2:3"),
);
const junkAddr = fc.constantFrom(
  "",
  " ",
  "a b:1",
  "127.0.0.1:99999",
  "127.0.0.1:0",
  "[::1",
  "unix:",
  "unix:///tmp/fuzz-never.sock",
  "\u0000",
  ":80",
  "http://127.0.0.1:1",
  "127.0.0.1:1\n",
  "10.255.255.1:1", // dialable but not loopback: the tap must keep it from grpc-js
);
const addrChoice: fc.Arbitrary<AddrChoice> = fc.oneof(
  { weight: 2, arbitrary: fc.constant({ echo: true as const }) },
  { weight: 1, arbitrary: fc.constant({ tarpit: true as const }) },
  { weight: 4, arbitrary: loopbackAddr.map((text) => ({ text })) },
  { weight: 2, arbitrary: junkAddr.map((text) => ({ text })) },
  {
    weight: 1,
    arbitrary: fc
      .string({ maxLength: 24 })
      .filter((s) => {
        const parsed = parseAddress(s);
        return (
          parsed === null || "path" in parsed || parsed.host.startsWith("127.") || parsed.host === "localhost"
        );
      })
      .map((text) => ({ text })),
  },
);

const nested = (depth: number): string => `${"[".repeat(depth)}1${"]".repeat(depth)}`;
const metadataText: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 4, arbitrary: fc.json({ maxDepth: 3 }).map(bytes) },
  { weight: 1, arbitrary: fc.constantFrom(31, 32, 33, 9999, 10000, 10001).map((d) => bytes(nested(d))) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      bytes('{"__proto__":{"polluted":true}}'),
      bytes('{"constructor":{"prototype":{"polluted":true}}}'),
      bytes('{"__proto__":[],"toString":1,"hasOwnProperty":"x"}'),
      raw('"zone-', [0xff, 0xfe], '"'), // invalid UTF-8 inside a JSON string: read as U+FFFD
      raw('{"k', [0xc0, 0xaf], '":1}'),
      bytes('"\\ud800"'),
      bytes("1e400"),
      bytes("NaN"),
      bytes("-0"),
      bytes("null"),
    ),
  },
);

/** A value: bytes of any kind, or an endpoint-shaped JSON built from parts. */
type ValueSpec =
  | { kind: "raw"; bytes: Uint8Array }
  | {
      kind: "endpoint";
      op: string;
      field: string;
      addr: AddrChoice;
      metadata: Uint8Array | null;
      extra: string;
    }
  | { kind: "sized"; size: number; addr: AddrChoice };

const valueSpec: fc.Arbitrary<ValueSpec> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant("endpoint" as const),
      op: fc.constantFrom("0", "0", "0", "1", "2", "255", "256", "-1", '"0"', "0.5", "null"),
      field: fc.constantFrom("Addr", "Addr", "Addr", "addr", "ADDR", "aDdR"),
      addr: addrChoice,
      metadata: fc.option(metadataText, { nil: null }),
      extra: fc.constantFrom(
        "",
        "",
        "",
        ',"Unknown":[1,2]',
        ',"Addr":null',
        ',"Addr":"127.0.0.3:3"',
        "  ",
        "} trailing",
      ),
    }),
  },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 48 }).map((b) => ({ kind: "raw" as const, bytes: b })) },
  { weight: 1, arbitrary: fc.json({ maxDepth: 2 }).map((j) => ({ kind: "raw" as const, bytes: bytes(j) })) },
  {
    // Around the codec's 64 KiB limit, and around etcd's 1.5 MiB request limit (above it etcd refuses the put).
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("sized" as const),
      size: fc.constantFrom(65_535, 65_536, 65_537, 1_000_000, 1_572_800, 1_572_900, 2_000_000),
      addr: addrChoice,
    }),
  },
);

type Op =
  | { kind: "put"; key: number; value: ValueSpec }
  | { kind: "del"; key: number }
  | { kind: "clear" }
  /** `count` puts at once of keys `storm-<i>`: loopback, echo and odd addresses, some malformed values. */
  | { kind: "storm"; count: number; seed: number }
  | { kind: "check" };

interface Case {
  keys: Uint8Array[];
  ops: Op[];
}

/** Keys that differ only in bytes a lossy UTF-8 decode turns into the same U+FFFD. */
const collidingKeys: fc.Arbitrary<Uint8Array[]> = fc
  .tuple(
    fc.string({ maxLength: 6 }),
    fc.subarray([[0xff], [0xfe], [0xef, 0xbf, 0xbd], [0xc3], [0x80], [0xed, 0xa0, 0x80], [0xf8, 0x88]], {
      minLength: 2,
    }),
  )
  .map(([stem, tails]) => tails.map((tail) => raw(stem, tail)));

const keyPool: fc.Arbitrary<Uint8Array[]> = fc.oneof(
  fc.array(keySuffix, { minLength: 1, maxLength: 6 }),
  fc
    .tuple(collidingKeys, fc.array(keySuffix, { maxLength: 3 }))
    .map(([colliding, others]) => [...colliding, ...others]),
);

const caseArb: fc.Arbitrary<Case> = keyPool
  .chain((keys) =>
    fc.record({
      keys: fc.constant(keys),
      ops: fc.array(
        fc.oneof(
          {
            weight: 10,
            arbitrary: fc.record({
              kind: fc.constant("put" as const),
              key: fc.nat(keys.length - 1),
              value: valueSpec,
            }),
          },
          {
            weight: 3,
            arbitrary: fc.record({ kind: fc.constant("del" as const), key: fc.nat(keys.length - 1) }),
          },
          { weight: 1, arbitrary: fc.constant({ kind: "clear" as const }) },
          {
            weight: 1,
            arbitrary: fc.record({
              kind: fc.constant("storm" as const),
              count: fc.integer({ min: 10, max: 150 }),
              seed: fc.nat(),
            }),
          },
          { weight: 2, arbitrary: fc.constant({ kind: "check" as const }) },
        ),
        { minLength: 2, maxLength: 24 },
      ),
    }),
  )
  // Bounds the traffic of one case: at most two values near etcd's limit.
  .filter(
    (c) =>
      c.ops.filter((op) => op.kind === "put" && op.value.kind === "sized" && op.value.size > 100_000)
        .length <= 2,
  );

// Cases run first in every mode: the defects an outside adversarial run reported (issue 21).
const endpoint = (text: string): ValueSpec => ({
  kind: "endpoint",
  op: "0",
  field: "Addr",
  addr: text === "echo" ? { echo: true } : text === "tarpit" ? { tarpit: true } : { text },
  metadata: null,
  extra: "",
});
const EXAMPLES: [Case][] = [
  // Keys that differ only in invalid UTF-8 bytes are two endpoints; deleting one keeps the other.
  [
    {
      keys: [raw("k-", [0xff]), raw("k-", [0xfe])],
      ops: [
        { kind: "put", key: 0, value: endpoint("127.0.0.1:1") },
        { kind: "put", key: 1, value: endpoint("127.0.0.1:2") },
        { kind: "check" },
        { kind: "del", key: 0 },
      ],
    },
  ],
  // A busy service emptied and refilled: calls must fail fast with "no endpoints", then succeed again.
  [
    {
      keys: [bytes("a"), bytes("__proto__"), raw("b", [0xff]), bytes("c"), bytes(" ")],
      ops: [
        { kind: "put", key: 0, value: endpoint("echo") },
        { kind: "put", key: 1, value: endpoint("127.0.0.1:3") },
        { kind: "put", key: 2, value: endpoint("[::1]:4") },
        { kind: "put", key: 3, value: { kind: "raw", bytes: raw([0xff, 0x00]) } },
        { kind: "put", key: 4, value: endpoint("a b") },
        { kind: "check" },
        { kind: "put", key: 0, value: endpoint("127.0.0.1:5") },
        { kind: "put", key: 0, value: endpoint("echo") },
        { kind: "clear" },
        { kind: "put", key: 0, value: endpoint("echo") },
        { kind: "clear" },
      ],
    },
  ],
  // The same with subchannels that never finish connecting (a storm of them), while calls are in flight.
  [
    {
      keys: [bytes("a"), bytes("b")],
      ops: [
        { kind: "put", key: 0, value: endpoint("echo") },
        { kind: "put", key: 1, value: endpoint("tarpit") },
        { kind: "storm", count: 90, seed: 2_089_879_739 },
        { kind: "check" },
        { kind: "clear" },
      ],
    },
  ],
];

// ---------------------------------------------------------------------------------------------------
// Materialising values, reading etcd back and computing what the views must be.

function materialise(spec: ValueSpec): Buffer {
  const addrOf = (choice: AddrChoice) =>
    "echo" in choice ? echo.addr : "tarpit" in choice ? tarpit.addr : choice.text;
  if (spec.kind === "raw") return Buffer.from(spec.bytes);
  if (spec.kind === "sized") {
    const head = `{"Op":0,"Addr":${JSON.stringify(addrOf(spec.addr))},"Metadata":"`;
    const fill = Math.max(0, spec.size - Buffer.byteLength(head) - 2);
    return Buffer.concat([Buffer.from(head), Buffer.alloc(fill, 0x78), Buffer.from('"}')]);
  }
  const parts = [Buffer.from(`{"Op":${spec.op},"${spec.field}":${JSON.stringify(addrOf(spec.addr))}`)];
  if (spec.metadata !== null) parts.push(Buffer.from(',"Metadata":'), Buffer.from(spec.metadata));
  parts.push(Buffer.from(`${spec.extra}}`));
  return Buffer.concat(parts);
}

/** The value of the i-th put of a storm: mostly dead loopback endpoints, the echo server, some junk. */
function stormValue(seed: number, i: number): Buffer {
  const n = (seed + i * 2_654_435_761) >>> 0;
  switch (n % 8) {
    case 0:
      return materialise(endpoint("echo"));
    case 1:
      return Buffer.from([0xff, 0x7b, n & 0xff]);
    case 2:
      return materialise(endpoint(`127.0.${(n >> 8) & 0xff}.${1 + (n % 250)} :1`));
    case 3:
      return materialise(endpoint("tarpit"));
    default:
      return materialise(
        endpoint(`127.${(n >> 8) & 0xff}.${(n >> 16) & 0xff}.${1 + (n % 250)}:${1 + (n % 9)}`),
      );
  }
}

interface StoredKv {
  key: Buffer;
  value: Buffer;
  modRevision: string;
}

/** Every key under `prefix` at one revision, as bytes, in pages small enough for 1.5 MiB values. */
async function readBack(prefix: Buffer): Promise<StoredKv[]> {
  const end = prefixRangeEnd(prefix);
  const out: StoredKv[] = [];
  let key = prefix;
  let revision = "0";
  for (;;) {
    const page = await checker.kv.range({ key, range_end: end, limit: 2, revision });
    if (revision === "0") revision = String(page.header.revision);
    for (const kv of page.kvs)
      out.push({ key: kv.key, value: kv.value, modRevision: String(kv.mod_revision) });
    const last = page.kvs[page.kvs.length - 1];
    if (!page.more || last === undefined) return out;
    key = Buffer.concat([last.key, Buffer.from([0])]);
  }
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
function validUtf8(b: Buffer): boolean {
  try {
    strictUtf8.decode(b);
    return true;
  } catch {
    return false;
  }
}

/** A canonical text of decoded metadata: own keys sorted, -0 kept apart from 0. */
function canonical(value: unknown): string {
  if (value === null || typeof value !== "object") return Object.is(value, -0) ? "-0" : JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  return `{${Object.keys(value)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
    .join(",")}}`;
}

interface Expected {
  endpoints: {
    key: Buffer;
    text: string;
    utf8: boolean;
    addr: string;
    metadata: string;
    modRevision: string;
  }[];
  skipped: string[];
  /** What the resolver hands grpc-js: the dialable addresses, each once. */
  addresses: string[];
}

function expectedViews(service: string, kvs: StoredKv[]): Expected {
  const expected: Expected = { endpoints: [], skipped: [], addresses: [] };
  const prefixLength = Buffer.byteLength(`${service}/`);
  const addresses = new Set<string>();
  for (const kv of kvs) {
    if (kv.key.length === prefixLength) continue; // `<service>/` itself names no endpoint
    const decoded = decodeEndpoint(kv.value);
    if (!decoded.ok) {
      expected.skipped.push(kv.modRevision);
      continue;
    }
    const { addr, metadata } = decoded.endpoint;
    expected.endpoints.push({
      key: kv.key,
      text: kv.key.toString("utf8"),
      utf8: validUtf8(kv.key),
      addr,
      metadata: canonical(metadata),
      modRevision: kv.modRevision,
    });
    const parsed = parseAddress(addr);
    if (parsed !== null) addresses.add(addressText(parsed));
  }
  expected.addresses = [...addresses].sort();
  return expected;
}

/** A key as text, its non-printable and non-ASCII bytes as \xNN. */
const show = (key: Buffer): string =>
  `"${[...key].map((b) => (b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, "0")}`)).join("")}"`;

/** Differences between the watcher's snapshot and etcd's state; empty when they agree. */
function watcherDiff(snapshot: ServiceSnapshot, expected: Expected): string[] {
  const problems: string[] = [];
  if (!snapshot.listed) return ["the watcher has not listed yet"];
  const byRevision = new Map<string, (typeof snapshot.endpoints)[number][]>();
  for (const e of snapshot.endpoints)
    byRevision.set(e.modRevision, [...(byRevision.get(e.modRevision) ?? []), e]);
  if (snapshot.endpoints.length !== expected.endpoints.length) {
    problems.push(
      `the watcher shows ${snapshot.endpoints.length} endpoints, etcd holds ${expected.endpoints.length} valid ones ` +
        `(etcd keys: ${expected.endpoints.map((e) => show(e.key)).join(", ")}; watcher keys: ${snapshot.endpoints.map((e) => JSON.stringify(e.key)).join(", ")})`,
    );
  }
  for (const want of expected.endpoints) {
    const found = byRevision.get(want.modRevision) ?? [];
    if (found.length !== 1) {
      problems.push(
        `etcd key ${show(want.key)} (mod revision ${want.modRevision}) is ${found.length === 0 ? "missing from" : "repeated in"} the watcher`,
      );
      continue;
    }
    const got = found[0]!;
    if (got.addr !== want.addr)
      problems.push(
        `${show(want.key)}: addr ${JSON.stringify(got.addr)}, etcd has ${JSON.stringify(want.addr)}`,
      );
    if (canonical(got.metadata) !== want.metadata)
      problems.push(`${show(want.key)}: metadata differs from etcd's`);
    if (want.utf8 && got.key !== want.text)
      problems.push(
        `${show(want.key)}: key ${JSON.stringify(got.key)}, etcd has ${JSON.stringify(want.text)}`,
      );
  }
  const skipped = snapshot.skipped.map((s) => s.modRevision).sort();
  if (skipped.join() !== [...expected.skipped].sort().join()) {
    problems.push(
      `the watcher skipped ${skipped.length} keys, etcd holds ${expected.skipped.length} undecodable ones`,
    );
  }
  return problems;
}

function resolverDiff(observation: Observation, expected: Expected): string[] {
  const seen = observation.kind === "endpoints" ? [...new Set(observation.addresses)].sort() : [];
  if (seen.join() === expected.addresses.join()) return [];
  return [
    `the channel was told ${observation.kind} [${seen.join(", ")}], etcd's dialable addresses are [${expected.addresses.join(", ")}]`,
  ];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------------

const BUDGET = { runs: 20, runTimeoutMs: 90_000, examples: EXAMPLES };
const counts: Counts = {};

it("watcher and resolver views converge to etcd's bytes under arbitrary keys and values", {
  timeout: testTimeoutFor(BUDGET),
}, async () => {
  const source = createEtcd3Source(reader);
  const property = fc.asyncProperty(caseArb, async (c) => {
    const service = `${etcd.namespace}/r${++runNo}`;
    const prefix = Buffer.from(`${service}/`);
    const keyOf = (i: number) => Buffer.concat([prefix, Buffer.from(c.keys[i]!)]);
    const watcher = watchService(source, service, { logger: quiet });
    const client = new grpc.Client(`${SCHEME}:///${service}`, grpc.credentials.createInsecure());
    client.getChannel().getConnectivityState(true);
    const observation = () => observe(service);

    const converge = async (when: string): Promise<Expected> => {
      const expected = expectedViews(service, await readBack(prefix));
      const deadline = Date.now() + 15_000;
      let problems: string[] = [];
      for (;;) {
        problems = [...watcherDiff(watcher.snapshot(), expected), ...resolverDiff(observation(), expected)];
        if (problems.length === 0) break;
        if (Date.now() > deadline)
          throw new Error(`${when}: views did not converge in 15 s:\n  ${problems.slice(0, 8).join("\n  ")}`);
        await sleep(20);
      }
      bump(counts, "checkpoints");
      return expected;
    };

    /** Calls must reach the echo server when the channel has it, and fail fast when the service is empty. */
    const checkCalls = async (expected: Expected, when: string) => {
      if (expected.addresses.includes(echo.addr)) {
        for (let i = 0; i < 3; i++) {
          const result = await callEcho(client, 8_000);
          if (!result.ok) {
            throw new Error(
              `${when}: a call failed although ${echo.addr} is registered: ${result.code} ${result.details}`,
            );
          }
        }
        bump(counts, "calls ok");
      } else if (expected.endpoints.length === 0 && observation().hadEndpoints) {
        const result = await callEcho(client, 5_000);
        if (
          result.ok ||
          result.code !== grpc.status.UNAVAILABLE ||
          !result.details.includes(`no endpoints for ${service}`)
        ) {
          const history = observation()
            .history.slice(-4)
            .map((h) => `${h.kind}(${h.addresses})@${h.at % 100_000}`)
            .join(" ");
          throw new Error(
            `${when}: a call on the emptied service ended ${result.ok ? "ok" : `${result.code} "${result.details}"`} after ${result.ms} ms, ` +
              `expected UNAVAILABLE "no endpoints for ${service}" (last resolver calls: ${history}; channel ${grpc.connectivityState[client.getChannel().getConnectivityState(false)]})`,
          );
        }
        bump(counts, "calls failing fast");
      }
    };

    // Calls keep flowing while the registry changes, as in production: a channel with calls waiting
    // behaves differently from an idle one when its service empties.
    let calling = true;
    const background = (async () => {
      while (calling) {
        void callEcho(client, 300);
        await sleep(25);
      }
    })();
    try {
      for (const op of c.ops) {
        if (op.kind === "put") {
          bump(counts, "puts");
          await writer
            .put(keyOf(op.key))
            .value(materialise(op.value))
            .exec()
            .catch(() => bump(counts, "puts refused by etcd"));
        } else if (op.kind === "del") {
          bump(counts, "deletes");
          await writer.delete().key(keyOf(op.key)).exec();
        } else if (op.kind === "storm") {
          bump(counts, "storm puts", op.count);
          await Promise.all(
            Array.from({ length: op.count }, (_, i) =>
              writer
                .put(Buffer.concat([prefix, Buffer.from(`storm-${(op.seed + i * 7) % (op.count * 2)}`)]))
                .value(stormValue(op.seed, i))
                .exec(),
            ),
          );
        } else if (op.kind === "clear") {
          bump(counts, "prefix deletes");
          await writer.delete().prefix(prefix).exec();
        } else {
          await checkCalls(await converge("at a checkpoint"), "at a checkpoint");
        }
      }
      await checkCalls(await converge("at the end of the sequence"), "at the end of the sequence");
      await writer.delete().prefix(prefix).exec();
      await checkCalls(await converge("after deleting the prefix"), "after deleting the prefix");
      await writer
        .put(keyOf(0))
        .value(materialise(endpoint("echo")))
        .exec();
      await checkCalls(
        await converge("after registering the echo server again"),
        "after registering the echo server again",
      );
      const changed = prototypeChanges(prototypes);
      if (changed.length > 0) throw new Error(`built-in prototypes changed: ${changed.join(", ")}`);
      bump(counts, "sequences");
    } finally {
      calling = false;
      await background;
      client.close();
      await watcher.close();
      await writer.delete().prefix(prefix).exec();
    }
  });
  await fuzz.check("views converge to etcd", property, BUDGET, counts);
});
