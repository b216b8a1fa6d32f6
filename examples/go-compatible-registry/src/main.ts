// Runs each naming recipe three ways (etcdctl, the etcd-naming CLI, the API) and shows that etcd ends up
// holding the same bytes, on the same kind of lease, whichever way was used.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Etcd3 } from "etcd3";
import { type Recipe, recipes, type Stored, stored } from "./recipes.js";

const endpoints = (process.env["ETCD_ENDPOINTS"] ?? "127.0.0.1:2379").split(",");
const prefix = process.env["PREFIX"] ?? "example";
const ttl = Number(process.env["TTL"] ?? 5);

// The CLI as installed with this example; from source when this checkout has not been built.
const cliDir = dirname(createRequire(import.meta.url).resolve("@etcd-naming/cli/package.json"));
const cli = existsSync(join(cliDir, "dist/index.js"))
  ? [process.execPath, join(cliDir, "bin/etcd-naming.mjs")]
  : [
      process.execPath,
      "--conditions=@etcd-naming/source",
      "--import",
      "tsx",
      fileURLToPath(new URL("run-cli.ts", import.meta.url)),
    ];

const client = new Etcd3({ hosts: endpoints });
const steps = recipes(
  { client, endpoints, etcdctl: process.env["ETCDCTL"] ?? "/usr/bin/etcdctl", cli },
  { prefix, service: "my-service", addr: "10.0.0.5:50051", metadata: "zone-a", ttl },
);

/** What each way stored, with its own service prefix taken off the keys so the three compare. */
async function compare(recipe: Recipe): Promise<{ same: boolean; states: Stored[][] }> {
  const states = await Promise.all(
    recipe.ways.map(async (way) =>
      (await stored(client, way.service)).map((s) => ({
        ...s,
        key: `my-service${s.key.slice(way.service.length)}`,
        lease: s.lease === "0" ? "none" : "yes",
        attachedKeys: s.attachedKeys.map((k) => `my-service${k.slice(way.service.length)}`),
      })),
    ),
  );
  const same = states.every((s) => JSON.stringify(s) === JSON.stringify(states[0]));
  return { same, states };
}

async function show(n: number, recipe: Recipe): Promise<boolean> {
  console.log(`\n${n}. ${recipe.title}`);
  for (const way of recipe.ways) {
    const output = await way.run();
    const [first, ...rest] = way.shown.split("\n");
    console.log(`   ${way.name.padEnd(12)} ${way.name === "API" ? "" : "$ "}${first}`);
    for (const line of rest) console.log(`   ${"".padEnd(12)} $ ${line}`);
    for (const line of output.split("\n").filter(Boolean)) console.log(`   ${"".padEnd(12)}   ${line}`);
  }
  const { same, states } = await compare(recipe);
  const state = states[0] ?? [];
  const described =
    state.length === 0
      ? "nothing"
      : state
          .map(
            (s) =>
              `${s.value}${s.lease === "yes" ? ` on a ${s.grantedTtl} s lease holding [${s.attachedKeys}]` : ""}`,
          )
          .join(", ");
  console.log(`   ${"stored".padEnd(12)} ${described}`);
  console.log(
    `   ${"".padEnd(12)} ${same ? "identical for all three ✓" : `DIFFERENT: ${JSON.stringify(states)}`}`,
  );
  return same;
}

let ok = false;
try {
  ok = (await show(1, steps.add)) && (await show(2, steps.del)) && (await show(3, steps.lease));
  if (ok) {
    // Past the TTL only a working keep-alive keeps the keys.
    await new Promise((resolve) => setTimeout(resolve, (ttl + 1) * 1_000));
    const alive = await Promise.all(
      steps.lease.ways.map(async (w) => (await stored(client, w.service)).length === 1),
    );
    ok = alive.every(Boolean);
    console.log(
      `\n   after ${ttl + 1} s (past the TTL): ${steps.lease.ways.map((w, i) => `${w.name} ${alive[i] ? "still registered ✓" : "EXPIRED"}`).join(", ")}`,
    );
  }
} finally {
  await steps.running.stop();
  client.close();
}
console.log(
  ok ? "\nAll three ways wrote the same registry entries." : "\nThe three ways disagree (see above).",
);
process.exitCode = ok ? 0 : 1;
