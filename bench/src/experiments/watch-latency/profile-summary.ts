// Summarises a V8 CPU profile (`node --cpu-prof`) of a watch-latency listener: where its busy time went,
// by code origin (our packages, etcd3, grpc-js, protobufjs, Node's internals) and by function, self and
// inclusive. Usage: node --import tsx profile-summary.ts <file.cpuprofile> [puts] [top] [from to]
// where from and to (µs of the monotonic clock, as main.ts logs them) bound the samples counted.
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  startTime: number;
  timeDeltas: number[];
}

const ORIGINS: [string, RegExp][] = [
  ["our watcher", /packages\/watcher\//],
  ["our resolver", /packages\/grpc-js\//],
  ["our codec / etcd layer", /packages\/(codec|etcd)\//],
  ["bench / experiment", /\/bench\//],
  ["protobufjs / proto-loader", /protobufjs|proto-loader|@protobufjs|long\//],
  ["etcd3", /\/etcd3\//],
  ["grpc-js", /@grpc\/grpc-js\//],
  ["node internals", /^node:/],
];

function origin(node: ProfileNode): string {
  const { url, functionName } = node.callFrame;
  if (url === "") return `(${functionName || "native"})`;
  return ORIGINS.find(([, pattern]) => pattern.test(url))?.[0] ?? "other";
}

const label = (node: ProfileNode): string => {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.replace(/^.*\/(node_modules\/\.pnpm\/[^/]+\/node_modules\/|packages\/)/, "");
  return `${functionName || "(anonymous)"} ${file}:${lineNumber + 1}`;
};

const [file, putsArg, topArg, fromArg, toArg] = process.argv.slice(2);
if (file === undefined) throw new Error("usage: profile-summary.ts <file.cpuprofile> [puts] [top]");
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
const puts = Number(putsArg ?? 0);
const top = Number(topArg ?? 25);
const from = Number(fromArg ?? Number.NEGATIVE_INFINITY);
const to = Number(toArg ?? Number.POSITIVE_INFINITY);

const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

const self = new Map<string, number>();
const inclusive = new Map<string, number>();
const byOrigin = new Map<string, number>();
let busy = 0;
let idle = 0;
let clock = profile.startTime;
profile.samples.forEach((id, i) => {
  clock += profile.timeDeltas[i] ?? 0;
  if (clock < from || clock > to) return;
  const micros = profile.timeDeltas[i + 1] ?? 0;
  const node = byId.get(id)!;
  if (node.callFrame.functionName === "(idle)") {
    idle += micros;
    return;
  }
  busy += micros;
  self.set(label(node), (self.get(label(node)) ?? 0) + micros);
  byOrigin.set(origin(node), (byOrigin.get(origin(node)) ?? 0) + micros);
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const name = label(byId.get(at)!);
    if (seen.has(name)) continue;
    seen.add(name);
    inclusive.set(name, (inclusive.get(name) ?? 0) + micros);
  }
});

const perPut = (micros: number) => (puts > 0 ? ` (${(micros / puts).toFixed(1)} µs per put)` : "");
const rows = (map: Map<string, number>) =>
  [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, micros]) => `  ${(micros / 1000).toFixed(1).padStart(8)} ms  ${name}${perPut(micros)}`);

console.log(`busy ${(busy / 1000).toFixed(1)} ms${perPut(busy)}, idle ${(idle / 1000).toFixed(1)} ms`);
console.log("\nby origin (self time):");
console.log(rows(byOrigin).join("\n"));
console.log("\nby function, self:");
console.log(rows(self).join("\n"));
console.log("\nby function, inclusive:");
console.log(rows(inclusive).join("\n"));
