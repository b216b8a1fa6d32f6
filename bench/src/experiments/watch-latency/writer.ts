// The writer of the watch-latency experiment, a process of its own so its puts cost the listeners
// nothing: puts `{"Op":0,"Addr":"<host>:<port-base + i>","Metadata":null}` (Go's endpoints.Manager value,
// which the Go listener parses too) under one key, one every --interval ms from its start, and prints
// {"type":"done","samples":[{addr, sentAt, ackAt}]} at the end, times as process.hrtime.bigint() strings.
import { parseArgs } from "node:util";
import { encodeEndpoint } from "@etcd-naming/codec";
import { Etcd3 } from "etcd3";

const { values } = parseArgs({
  options: {
    endpoint: { type: "string" },
    key: { type: "string" },
    host: { type: "string", default: "127.0.0.1" },
    "port-base": { type: "string" },
    count: { type: "string" },
    interval: { type: "string" },
  },
});
const portBase = Number(values["port-base"]);
const count = Number(values.count);
const intervalMs = Number(values.interval);
if (!values.endpoint || !values.key || !(portBase > 0) || !(count > 0) || !(intervalMs > 0)) {
  throw new Error("--endpoint, --key, --port-base, --count and --interval are required");
}

const client = new Etcd3({ hosts: [values.endpoint] });
// One read first, so the connection is up before the first timed put.
await client.get(values.key).exec();

const samples: { addr: string; sentAt: string; ackAt: string }[] = [];
const start = performance.now();
for (let i = 0; i < count; i++) {
  const wait = start + i * intervalMs - performance.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  const addr = `${values.host}:${portBase + i}`;
  const value = encodeEndpoint({ addr });
  const sentAt = process.hrtime.bigint();
  await client.put(values.key).value(value).exec();
  const ackAt = process.hrtime.bigint();
  samples.push({ addr, sentAt: String(sentAt), ackAt: String(ackAt) });
}
process.stdout.write(`${JSON.stringify({ type: "done", samples })}\n`);
client.close();
setTimeout(() => process.exit(0), 200).unref();
