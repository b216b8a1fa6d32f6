// A raw etcd3 watch of one prefix, alone in its process: scenario 10's floor for our resolver. It notes
// when each endpoint address (`Addr` of a put's JSON value) first reaches it, in wall-clock nanoseconds.
// argv: <etcd host:port> <prefix> <probe addr> <last addr>
// Prints {"type":"ready"} once the watch is created, {"type":"probed"} when the probe address arrives,
// and {"type":"done","seen":{addr: "ns"},"clockMovedMs":n} once the last address has arrived.
import { Etcd3 } from "etcd3";
import { wallClockOffset } from "../wall-clock.js";

const [host, prefix, probe, last] = process.argv.slice(2);
if (host === undefined || prefix === undefined || probe === undefined || last === undefined) {
  console.error("usage: raw-watch <etcd host:port> <prefix> <probe addr> <last addr>");
  process.exit(2);
}
const client = new Etcd3({ hosts: [host] });
const seen = new Map<string, bigint>();
const watch = await client.watch().prefix(prefix).create();
const offsetBefore = wallClockOffset();
watch.on("put", (kv) => {
  const at = process.hrtime.bigint();
  const addr = (JSON.parse(kv.value.toString()) as { Addr: string }).Addr;
  if (seen.has(addr)) return;
  seen.set(addr, at);
  if (addr === probe) console.log(JSON.stringify({ type: "probed" }));
  if (addr !== last) return;
  // The wall clock is read again after the puts, as in the bench process: a step in between is reported.
  const offsetAfter = wallClockOffset();
  const offset = (offsetBefore + offsetAfter) / 2n;
  const wall: Record<string, string> = {};
  for (const [address, hr] of seen) wall[address] = String(hr + offset);
  console.log(
    JSON.stringify({ type: "done", seen: wall, clockMovedMs: Number(offsetAfter - offsetBefore) / 1e6 }),
  );
});
console.log(JSON.stringify({ type: "ready" }));
