// One listening process of the watch-latency experiment: opens the variants it is given (variants.ts) on
// one etcd and records the first time each saw each address. It speaks JSON lines on stdout:
//   {"type":"ready"}   every variant's watch is established;
//   {"type":"probed"}  every variant has seen the --probe address (the writer may start);
//   {"type":"done", "seen": {variant: {addr: hrtime}}, "cpuMicros": n}  every variant has seen the --until
//   address; cpuMicros is this process's CPU time (user + system) since the probe, window that span in µs.
// Times are process.hrtime.bigint() (CLOCK_MONOTONIC, shared by every process of the machine) as decimal
// strings. Nothing is printed between "probed" and "done", so the measurement costs no output.
import { parseArgs } from "node:util";
import { type Close, closeShared, openVariant } from "./variants.js";

const { values } = parseArgs({
  options: {
    endpoint: { type: "string" },
    service: { type: "string" },
    variants: { type: "string" },
    shared: { type: "boolean", default: false },
    probe: { type: "string" },
    until: { type: "string" },
  },
});
const { endpoint, service, probe, until } = values;
if (!endpoint || !service || !values.variants || !probe || !until) {
  throw new Error("--endpoint, --service, --variants, --probe and --until are required");
}
const variants = values.variants.split(",");

const send = (message: object) => process.stdout.write(`${JSON.stringify(message)}\n`);

/** Per variant (and per stage a variant reports, `variant.stage`), the first time it saw each address. */
const seen = new Map<string, Map<string, bigint>>();
let probedSent = false;
let doneSent = false;
/** CPU time of this process from the probe to the last put: what the variants cost per put, all in. */
let cpuAtProbe: NodeJS.CpuUsage | undefined;
let probedAt = 0n;

const allSaw = (addr: string) => variants.every((variant) => seen.get(variant)?.has(addr));

const closers: Close[] = [];
async function finish(): Promise<void> {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  closeShared();
  // grpc-js may hold the loop a while after its channels close.
  setTimeout(() => process.exit(0), 500).unref();
}

function record(variant: string, addr: string, at: bigint): void {
  let bySeen = seen.get(variant);
  if (bySeen === undefined) {
    bySeen = new Map();
    seen.set(variant, bySeen);
  }
  if (bySeen.has(addr)) return;
  bySeen.set(addr, at);
  if (!probedSent && addr === probe && allSaw(probe)) {
    probedSent = true;
    cpuAtProbe = process.cpuUsage();
    probedAt = process.hrtime.bigint();
    send({ type: "probed" });
  }
  if (!doneSent && addr === until && allSaw(until)) {
    doneSent = true;
    // After this callback returns: the other variants' callbacks for the same put still run first.
    setTimeout(() => {
      const out: { [variant: string]: { [addr: string]: string } } = {};
      for (const [name, sightings] of seen) {
        out[name] = Object.fromEntries([...sightings].map(([a, t]) => [a, String(t)]));
      }
      const cpu = process.cpuUsage(cpuAtProbe);
      // The measured span in µs of the monotonic clock, which V8's CPU profiles use too.
      const window = [String(probedAt / 1000n), String(at / 1000n)];
      send({ type: "done", seen: out, cpuMicros: cpu.user + cpu.system, window });
      void finish();
    }, 50);
  }
}

const context = { endpoint, service, sharedClient: values.shared, record };
for (const variant of variants) closers.push(await openVariant(context, variant));
send({ type: "ready" });
