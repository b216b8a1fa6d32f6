import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import { describe, expect, it } from "vitest";

const etcd = useTestEtcd();
const packageDir = fileURLToPath(new URL("..", import.meta.url));

function runProgram(
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(
    process.execPath,
    ["--conditions=@etcd-naming/source", "--import", "tsx", "src/main.ts"],
    {
      cwd: packageDir,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
  return new Promise((resolve) =>
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

/** The steps the program printed: `N. label, C calls: name n (p%), …` → label → calls per server. */
function steps(stdout: string): Map<string, Record<string, number>> {
  const found = new Map<string, Record<string, number>>();
  for (const line of stdout.split("\n")) {
    const match = /^\d+\. (.+), (\d+) calls: (.+)$/.exec(line);
    if (match === null) continue;
    const counts: Record<string, number> = {};
    for (const part of match[3]!.split(", ")) {
      const [name, n] = part.split(" ");
      counts[name!] = Number(n);
    }
    found.set(match[1]!, counts);
  }
  return found;
}

/** Every server's share of `calls` within ±3 points of `expected` (in %), and no other server. */
function expectShares(
  counts: Record<string, number> | undefined,
  calls: number,
  expected: Record<string, number>,
) {
  expect(Object.keys(counts ?? {}).sort()).toEqual(Object.keys(expected).sort());
  for (const [name, share] of Object.entries(expected)) {
    expect(
      Math.abs((counts![name]! / calls) * 100 - share),
      `${name}: ${counts![name]} of ${calls}`,
    ).toBeLessThanOrEqual(3);
  }
}

describe("weighted-zones", () => {
  it("splits by weight, keeps zone a's client in zone a, and follows a pause, a new weight and a failing zone", async () => {
    const service = `${etcd.namespace}/weighted-zones`;
    const { code, stdout, stderr } = await runProgram({
      ETCD_ENDPOINTS: etcd.endpoints.join(","),
      SERVICE: service,
    });
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });

    const printed = steps(stdout);
    expect([...printed.keys()]).toEqual([
      "client in zone a (?prefer=zone:a)",
      "client without preference",
      "a2 paused",
      "a2 resumed, a1 weight 3",
      "zone a down",
      "zone a back",
    ]);
    expectShares(printed.get("client in zone a (?prefer=zone:a)"), 400, { a1: 25, a2: 75 });
    expectShares(printed.get("client without preference"), 600, {
      a1: 100 / 6,
      a2: 50,
      b1: 100 / 6,
      b2: 100 / 6,
    });
    expectShares(printed.get("a2 paused"), 400, { a1: 100 });
    expectShares(printed.get("a2 resumed, a1 weight 3"), 400, { a1: 50, a2: 50 });
    expectShares(printed.get("zone a down"), 400, { b1: 50, b2: 50 });
    expectShares(printed.get("zone a back"), 400, { a1: 50, a2: 50 });
    expect(stdout).toMatch(/^lost calls: 0, attempts made again within their deadline: \d+$/m);

    // The program deregistered everything it registered.
    expect(await etcd.client().getAll().prefix(`${service}/`).keys()).toEqual([]);
  }, 120_000);
});
