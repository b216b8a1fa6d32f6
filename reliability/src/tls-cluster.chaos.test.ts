// Issue 20, TLS: a 3-member cluster with mutual TLS between its members and to its clients. A registrar, a
// watcher and a grpc-js channel through etcd:/// run on a client certificate that lives seconds. The leader
// is killed; the certificate is renewed in the running clients before it expires; once the old one has
// expired every member is restarted, so every connection is made again with the renewed certificate.
// Nothing may be lost. Then the only certificate expires, and what the clients say must name the expiry
// and the endpoint.
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { encodeEndpoint } from "@etcd-naming/codec";
import { renewClientCertificate } from "@etcd-naming/etcd";
import { type IssuedCertificate, startTlsCluster, type TlsCluster } from "@etcd-naming/etcd-fixture";
import { greeterClient, startGreeter } from "@etcd-naming/etcd-fixture/greeter";
import { registerEtcdResolver } from "@etcd-naming/grpc-js";
import { register, registrarClientOptions } from "@etcd-naming/registrar";
import { createEtcd3Source, watchService } from "@etcd-naming/watcher";
import type { Etcd3 } from "etcd3";
import { expect, it, vi } from "vitest";
import { callLoop } from "./call-loop.js";
import { useChaosCluster } from "./chaos-rig.js";
import { startChurn } from "./churn.js";
import { memberClientOptions, until } from "./cluster-tools.js";
import { etcdEndpoints } from "./history.js";
import { writeResults } from "./results.js";
import { WatchRecorder } from "./watch-recorder.js";

vi.setConfig({ testTimeout: 120_000, hookTimeout: 60_000 });

const root = "chaos/tls";
const greeterService = `${root}/greeter`;
const churnService = `${root}/churn`;
// The first certificate of the clients under test: long enough for the leader kill on a loaded machine.
const FIRST_LIFETIME_MS = 15_000;
// The renewed one: past the first one's expiry, long enough for a rolling restart of the members.
const RENEWED_MARGIN_MS = 25_000;

/** Every warning and error a package logged, as one line each. */
const logged: string[] = [];
const logger = {
  warn: (fields: unknown, message?: string) => logged.push(`warn: ${message ?? String(fields)}`),
  error: (fields: unknown, message?: string) => logged.push(`error: ${message ?? String(fields)}`),
};

const CLI = fileURLToPath(new URL("../../packages/cli/bin/etcd-naming.mjs", import.meta.url));

/** Runs the built CLI; resolves with its exit code and output. */
function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

let tlsCluster: TlsCluster | undefined;
const rig = useChaosCluster("chaos-tls", root, async (name) => {
  const cluster = await startTlsCluster({ size: 3, name });
  // The test's own reads and writes (history, writer) present a certificate that outlives the run.
  const observer = await cluster.issueClientCertificate("observer");
  for (const member of cluster.members) {
    memberClientOptions.set(member, {
      credentials: { rootCertificate: cluster.ca.ca, certChain: observer.cert, privateKey: observer.key },
    });
  }
  tlsCluster = cluster;
  return cluster;
});
const { recorders, registrations, servers } = rig;

it("keeps TLS clients working through a leader kill and a certificate renewal, and names the expiry of the only certificate", async () => {
  const { cluster, history, writer } = rig;
  const tls = tlsCluster!;
  let cert: IssuedCertificate = await tls.issueClientCertificate("app", { lifetimeMs: FIRST_LIFETIME_MS });
  const first = cert;
  // The clients under test read the certificate files, as a deployment would.
  const credentials = async () => ({
    rootCertificate: await readFile(tls.caFile),
    certChain: await readFile(cert.certFile),
    privateKey: await readFile(cert.keyFile),
  });
  const appClients: Etcd3[] = [];
  const appClient = async (options = {}) => {
    const created = rig.client({ ...options, credentials: await credentials() });
    appClients.push(created);
    return created;
  };

  for (const id of ["a", "b"]) {
    const server = await startGreeter(id);
    servers.push(server);
    registrations.push(
      await register({
        client: await appClient(registrarClientOptions()),
        service: greeterService,
        addr: server.addr,
        ttl: 5,
        logger,
      }),
    );
  }
  const lost: string[] = [];
  for (const r of registrations) r.on("lost", (e) => lost.push(`${r.key}: ${e.message}`));
  const source = createEtcd3Source(await appClient());
  for (const service of [greeterService, churnService]) {
    const watcher = watchService(source, service, { coalesceMs: 0, logger });
    recorders.push(new WatchRecorder(`w:${service}`, watcher));
  }
  await Promise.all(recorders.map((r) => r.watcher.ready()));
  rig.resolver = registerEtcdResolver({ client: await appClient(), logger });
  const greeter = greeterClient(`etcd:///${greeterService}`);
  const calls = callLoop(greeter);
  await until(() => Object.keys(calls.stats.byServer).length === 2, {
    describe: () => JSON.stringify(calls.stats),
  });

  const churn = startChurn(writer, churnService, { seed: 20, subnet: "10.3.0", pauseMs: [10, 40] });
  const churnWatcher = recorders.find((r) => r.service === churnService)!;
  const seen = async (marker: string) => {
    await writer.put(marker, encodeEndpoint({ addr: "10.4.0.1:80" }));
    await until(() => churnWatcher.current().has(marker), {
      timeoutMs: 30_000,
      describe: () => `${marker} not seen; logged: ${logged.slice(-5).join(" | ")}`,
    });
  };

  // 1. The leader is killed and comes back.
  const leader = await cluster.leader();
  await leader.kill();
  await seen(`${churnService}/after-kill`);
  await leader.start();
  await cluster.leader();

  // 2. The certificate is renewed in place and handed to the running clients before it expires.
  const renewedLifetimeMs = Math.max(0, first.notAfter.getTime() - Date.now()) + RENEWED_MARGIN_MS;
  cert = await tls.issueClientCertificate("app", { lifetimeMs: renewedLifetimeMs });
  const renewal = await credentials();
  expect(Date.now(), "the renewal must come before the first certificate expires").toBeLessThan(
    first.notAfter.getTime(),
  );
  for (const client of appClients) renewClientCertificate(client, renewal);
  await until(() => Date.now() > first.notAfter.getTime() + 500, { timeoutMs: FIRST_LIFETIME_MS + 5_000 });
  // Every member restarts, one at a time: every connection is made again, with the renewed certificate.
  const phase: Record<string, number> = { renewed: Date.now() };
  for (const member of cluster.members) {
    await member.kill();
    await member.start();
    await cluster.leader();
  }
  phase["restarted"] = Date.now();
  await seen(`${churnService}/after-renewal`);
  phase["seen"] = Date.now();
  await churn.stop();
  const stats = await calls.stop();

  const reader = await rig.converge();
  expect(recorders.flatMap((r) => r.checkHistory(history))).toEqual([]);
  const registrationDeletes = registrations.flatMap((r) =>
    history.eventsOf(r.key).filter((e) => e.type === "delete"),
  );
  expect(registrationDeletes).toEqual([]);
  expect(lost).toEqual([]);
  const live = await etcdEndpoints(reader, greeterService);
  expect([...live.keys()].sort()).toEqual(registrations.map((r) => r.key).sort());
  expect(stats.ok).toBeGreaterThan(0);
  const rpcFailures = stats.failed;

  // 3. The only certificate expires; every member restarts, so no connection made earlier survives.
  await until(() => Date.now() > cert.notAfter.getTime() + 500, { timeoutMs: renewedLifetimeMs + 5_000 });
  const before = logged.length;
  await Promise.all(
    cluster.members.map(async (m) => {
      await m.kill();
      await m.start();
    }),
  );
  const expiry =
    /the client certificate CN=app expired at \S+Z; etcd at 127\.0\.0\.1:\d+ refused the TLS handshake/;
  // The watcher's warnings, and the registrar's "lost" once no keep-alive got through for a TTL.
  await until(
    () => logged.slice(before).some((line) => expiry.test(line)) && lost.some((line) => expiry.test(line)),
    {
      timeoutMs: 30_000,
      describe: () => `lost: ${lost.join(" | ")}; logged: ${logged.slice(before).join(" | ")}`,
    },
  );
  greeter.close();
  // The CLI, given the same certificate files, says so in its one error line.
  const cli = await runCli([
    "list",
    greeterService,
    `--endpoints=${cluster.clientUrls.join(",")}`,
    `--cacert=${tls.caFile}`,
    `--cert=${cert.certFile}`,
    `--key=${cert.keyFile}`,
  ]);
  expect(cli.code).toBe(1);
  expect(cli.stderr).toMatch(
    /^error: cannot connect to etcd at https:\/\/127\.0\.0\.1:\d+.*: the client certificate CN=app expired at \S+Z; etcd at https:\/\/127\.0\.0\.1:\d+.* refused the TLS handshake \(alert [a-z ]+\) \(--cert /,
  );
  const said = logged.slice(before);

  writeResults("tls-cluster", {
    version: cluster.version,
    firstLifetimeMs: FIRST_LIFETIME_MS,
    renewedLifetimeMs,
    rollingRestartMs: (phase["restarted"] ?? 0) - (phase["renewed"] ?? 0),
    historyEvents: history.events.length,
    acknowledgedWrites: writer.acked.length,
    // Through the kill and the renewal; once the only certificate expired, losing them is expected.
    registrationsLost: registrationDeletes.length,
    afterExpiry: {
      watcher: said.find((line) => expiry.test(line) && line.includes("watch of")),
      registrar: lost.find((line) => expiry.test(line)),
      cli: cli.stderr.trim(),
    },
    watcherMismatches: 0,
    rpcs: { ok: stats.ok, failed: rpcFailures },
  });
});
