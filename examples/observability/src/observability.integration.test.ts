import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import { expect, it } from "vitest";

const etcd = useTestEtcd();
const packageDir = fileURLToPath(new URL("..", import.meta.url));

/** The metric names the program serves once it has called both servers (Prometheus spelling). */
const EXPECTED = [
  "etcd_naming_service_endpoints",
  "etcd_naming_service_staleness",
  "etcd_naming_watch_streams",
  "etcd_naming_resolver_updates_total",
  "etcd_naming_resolver_propagation_duration_bucket",
  "etcd_naming_registrar_leases",
  "etcd_naming_registrar_keepalive_duration_bucket",
];

it("serves the resolver's and the registrar's metrics on a Prometheus endpoint, and stops cleanly", async () => {
  const service = `${etcd.namespace}/observability`;
  const child = spawn(
    process.execPath,
    ["--conditions=@etcd-naming/source", "--import", "tsx", "src/main.ts"],
    {
      cwd: packageDir,
      env: { ...process.env, ETCD_ENDPOINTS: etcd.endpoints.join(","), SERVICE: service, METRICS_PORT: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  try {
    await expect
      .poll(() => /metrics: (\S+)/.exec(stdout)?.[1], { timeout: 30_000, interval: 50 })
      .toBeDefined();
    expect(stdout).toContain("calls reach: one, two");
    const url = /metrics: (\S+)/.exec(stdout)![1]!;
    // The first keep-alive goes a third of the TTL after the grant: scrape until its histogram is there.
    let body = "";
    await expect
      .poll(
        async () => {
          const response = await fetch(url);
          expect(response.status).toBe(200);
          expect(response.headers.get("content-type")).toMatch(/^text\/plain/);
          body = await response.text();
          const names = new Set(body.split("\n").flatMap((line) => /^([a-z_]+)[{ ]/.exec(line)?.[1] ?? []));
          return EXPECTED.filter((name) => !names.has(name));
        },
        { timeout: 15_000, interval: 200 },
      )
      .toEqual([]);
    expect(body).toMatch(new RegExp(`etcd_naming_service_endpoints\\{service="${service}",[^}]*\\} 2\\n`));
    expect(body).toMatch(/etcd_naming_registrar_leases\{[^}]*\} 1\n/);

    child.kill("SIGTERM");
    const [code] = await exited;
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    expect(stdout).toContain("stopped");
    expect(await etcd.client().getAll().prefix(`${service}/`).keys()).toEqual([]);
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
}, 60_000);
