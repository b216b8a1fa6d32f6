// 7. Attributes and pause (issue 17, items 1 and 4) as etcd's Go resolver sees them, on both Go flavours.
//    Endpoints registered with `attributes` carry a metadata *string* ("weight=1;zone=a"): 3.4.23's resolver
//    hands it to grpc-go as it is, 3.5.30's leaves metadata out, and a Go client through either calls them
//    without panicking. Pausing deletes the key (Go's resolvers act on key presence only), so a Go client
//    stops calling the paused server while it runs; its pause marker is outside every service prefix, so
//    Go's Manager never lists it; resuming brings the server back.
import { PAUSE_MARKER_ROOT, pauseMarkerKey } from "@etcd-naming/codec";
import { type GreeterServer, startGreeter } from "@etcd-naming/etcd-fixture/greeter";
import { type Registration, register } from "@etcd-naming/registrar";
import type { Etcd3 } from "etcd3";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { GoFlavour } from "./flavours.js";
import { type GoLine, type GoProcess, startGo } from "./go-helper.js";
import { describeGoFlavours, goChannelArgs, runGoManager, runGoResolve } from "./suite.js";

const answeredBy = (lines: readonly GoLine[]): string[] =>
  lines.flatMap((line) => (typeof line["server"] === "string" ? [line["server"]] : []));

/** What etcd's Go resolver hands to grpc-go for these endpoints (sorted by address), per flavour. */
const handedToGrpc = (flavour: GoFlavour, endpoints: { addr: string; metadata: string }[]) => {
  const sorted = [...endpoints].sort((a, b) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0));
  return flavour.resolverPassesMetadata
    ? { addresses: sorted, endpoints: [] }
    : { addresses: [], endpoints: sorted.map(({ addr }) => [{ addr, metadata: null }]) };
};

describeGoFlavours(
  "attributes and pause, through etcd's Go resolver",
  { timeout: 90_000 },
  ({ flavour, etcd, go }) => {
    let client: Etcd3;
    const servers: GreeterServer[] = [];
    const registrations: Registration[] = [];
    const goClients: GoProcess[] = [];

    beforeAll(() => {
      client = etcd.client();
    });
    afterAll(async () => {
      await Promise.all(goClients.map((c) => c.stop()));
      await Promise.all(registrations.map((r) => r.deregister()));
      await Promise.all(servers.map((s) => s.close()));
      await client?.delete().prefix(`${PAUSE_MARKER_ROOT}${etcd.namespace}/`).exec();
    });

    it("a Go client calls endpoints registered with attributes, and stops calling a paused one until it resumes", async () => {
      const service = `${etcd.namespace}/attrs`;
      const ids = ["node-1", "node-2", "node-3"];
      for (const [i, id] of ids.entries()) {
        const server = await startGreeter(id);
        servers.push(server);
        const attributes = { zone: i === 2 ? "b" : "a", weight: String(i + 1) };
        registrations.push(await register({ client, service, addr: server.addr, attributes, ttl: 10 }));
      }
      const [paused, ...others] = servers as [GreeterServer, ...GreeterServer[]];
      const registration = registrations[0]!;
      const metadataOf = (i: number) => `weight=${i + 1};zone=${i === 2 ? "b" : "a"}`;

      // Go's resolver reads the string metadata: 3.4 hands it on, 3.5.27+ leaves it out; no panic either way.
      const state = await runGoResolve({ etcd, go }, service);
      expect(state).toEqual(
        handedToGrpc(
          flavour,
          servers.map((s, i) => ({ addr: s.addr, metadata: metadataOf(i) })),
        ),
      );

      const goClient = startGo(go.binary, ["client", ...goChannelArgs(etcd, service, "10ms")]);
      goClients.push(goClient);
      await goClient.waitForLine((line) => line["event"] === "dialed");
      await expect
        .poll(() => new Set(answeredBy(goClient.lines)).size, { timeout: 20_000, interval: 20 })
        .toBe(3);

      // Pause node-1: its key goes, its process and lease stay.
      const lease = registration.leaseId;
      const pausedAt = goClient.lines.length;
      const started = performance.now();
      await registration.pause();
      expect(await client.get(registration.key).string()).toBeNull();
      expect((await client.get(pauseMarkerKey(registration.key)).exec()).kvs[0]?.lease).toBe(lease);

      // The Go resolver drops it: find the last call it answered, then a run of 60 calls without it.
      let converged = pausedAt;
      await expect
        .poll(
          () => {
            const lines = goClient.lines;
            converged = pausedAt;
            for (let i = lines.length - 1; i >= pausedAt; i--) {
              if (lines[i]!["server"] === paused.id) {
                converged = i + 1;
                break;
              }
            }
            return answeredBy(lines.slice(converged)).length;
          },
          { timeout: 20_000, interval: 20 },
        )
        .toBeGreaterThanOrEqual(60);
      // The client calls every 10 ms: the calls between the pause and the last one node-1 answered bound
      // the Go side's delay.
      console.info(
        `[interop ${flavour.id}] node-1 answered ${converged - pausedAt} more calls after pause() began (${(performance.now() - started).toFixed(0)} ms until 60 calls without it)`,
      );
      const callsWhilePaused = paused.calls;
      await expect
        .poll(() => goClient.lines.length - converged, { timeout: 20_000, interval: 20 })
        .toBeGreaterThan(120);
      const later = answeredBy(goClient.lines.slice(converged));
      expect(later).not.toContain(paused.id);
      expect(new Set(later)).toEqual(new Set(others.map((s) => s.id)));
      expect(paused.calls).toBe(callsWhilePaused);
      expect(goClient.lines.slice(converged).filter((line) => "error" in line)).toEqual([]);

      // Go's Manager lists the two served endpoints; the marker is no endpoint to it, on either release.
      const listed = (await runGoManager({ etcd, go }, service, "list")) as {
        endpoints: Record<string, unknown>;
      };
      expect(Object.keys(listed.endpoints).sort()).toEqual(
        registrations
          .slice(1)
          .map((r) => r.key)
          .sort(),
      );

      // Resume: the same lease, and the Go client calls node-1 again.
      await registration.resume();
      expect((await client.get(registration.key).exec()).kvs[0]?.lease).toBe(lease);
      const resumedAt = goClient.lines.length;
      await expect
        .poll(() => answeredBy(goClient.lines.slice(resumedAt)).includes(paused.id), {
          timeout: 20_000,
          interval: 20,
        })
        .toBe(true);
      expect(goClient.lines.filter((line) => "error" in line)).toEqual([]);

      const exit = await goClient.stop();
      expect(exit.stderr).not.toContain("panic");
      expect(exit.code).toBe(0);
    });
  },
);
