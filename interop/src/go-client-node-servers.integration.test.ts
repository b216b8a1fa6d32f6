// 3. A Go gRPC client dialing etcd:///<service> through etcd's Go resolver with round_robin calls Node
//    grpc-js servers registered by our registrar; one of them drains → the Go client stops calling it.
import { type GreeterServer, startGreeter } from "@etcd-naming/etcd-fixture/greeter";
import { type Registration, register } from "@etcd-naming/registrar";
import type { Etcd3 } from "etcd3";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type GoLine, startGo } from "./go-helper.js";
import { describeGoFlavours } from "./suite.js";

const answeredBy = (lines: readonly GoLine[]): string[] =>
  lines.flatMap((line) => (typeof line["server"] === "string" ? [line["server"]] : []));

describeGoFlavours(
  "Go client, etcd's Go resolver → Node servers",
  { timeout: 60_000 },
  ({ flavour, etcd, go }) => {
    let client: Etcd3;
    beforeAll(() => {
      client = etcd.client();
    });
    const servers: GreeterServer[] = [];
    const registrations: Registration[] = [];

    afterAll(async () => {
      await Promise.all(registrations.map((r) => r.deregister()));
      await Promise.all(servers.map((s) => s.close()));
    });

    /** The helper's `client`: dials etcd:///<service> through etcd's Go resolver, one call every 20 ms. */
    const startGoClient = (service: string, ...args: string[]) =>
      startGo(go.binary, [
        "client",
        "-endpoints",
        etcd.endpoints.join(","),
        "-target",
        `etcd:///${service}`,
        "-interval",
        "20ms",
        ...args,
      ]);

    it("round-robins over every registered Node server and stops calling a drained one", async () => {
      const service = `${etcd.namespace}/greeter`;
      for (const id of ["node-1", "node-2", "node-3"]) {
        const server = await startGreeter(id);
        servers.push(server);
        // String metadata: what Go resolvers before 3.5.27 can carry without panicking.
        registrations.push(
          await register({ client, service, addr: server.addr, metadata: `id=${id}`, ttl: 10 }),
        );
      }

      // grpc-go sends the service name as :authority; Node's HTTP/2 server refuses one containing "/"
      // (see the next test), so a nested service needs a host-like authority, as our resolver uses.
      const goClient = startGoClient(service, "-authority", service.replaceAll("/", "."));
      await goClient.waitForLine((line) => line["event"] === "dialed");

      // round_robin: every server answers, none dominates.
      await expect
        .poll(() => new Set(answeredBy(goClient.lines)).size, { timeout: 20_000, interval: 50 })
        .toBe(3)
        .catch((error: Error) => {
          throw new Error(
            `${error.message}; the Go client said: ${JSON.stringify(goClient.lines.slice(-3))}`,
            {
              cause: error,
            },
          );
        });
      const warmup = goClient.lines.length;
      await expect
        .poll(() => goClient.lines.length - warmup, { timeout: 20_000, interval: 50 })
        .toBeGreaterThan(60);
      const spread = answeredBy(goClient.lines.slice(warmup));
      for (const id of ["node-1", "node-2", "node-3"]) {
        expect(spread.filter((s) => s === id).length, id).toBeGreaterThan(spread.length / 6);
      }
      expect(goClient.lines.slice(warmup).filter((line) => "error" in line)).toEqual([]);

      // Drain node-1: its key goes, the server itself keeps serving (as during a drain's grace period).
      await registrations[0]!.deregister();
      const drainedAt = goClient.lines.length;
      // The Go resolver applies the delete: a run of 40 answers without node-1 follows.
      let converged = drainedAt;
      await expect
        .poll(
          () => {
            const lines = goClient.lines;
            converged = drainedAt;
            for (let i = lines.length - 1; i >= drainedAt; i--) {
              if (lines[i]!["server"] === "node-1") {
                converged = i + 1;
                break;
              }
            }
            return answeredBy(lines.slice(converged)).length;
          },
          { timeout: 20_000, interval: 50 },
        )
        .toBeGreaterThanOrEqual(40);
      const callsOnDrained = servers[0]!.calls;

      // From then on node-1 gets nothing although it is up, and the others share the traffic.
      await expect
        .poll(() => goClient.lines.length - converged, { timeout: 20_000, interval: 50 })
        .toBeGreaterThan(100);
      const later = answeredBy(goClient.lines.slice(converged));
      expect(later).not.toContain("node-1");
      expect(new Set(later)).toEqual(new Set(["node-2", "node-3"]));
      expect(servers[0]!.calls).toBe(callsOnDrained);
      expect(goClient.lines.slice(converged).filter((line) => "error" in line)).toEqual([]);

      const exit = await goClient.stop();
      expect(exit.code).toBe(0);
    });

    it(
      flavour.grpcEncodesAuthority
        ? `a nested service name: grpc-go ${flavour.expected.grpc} percent-encodes it into :authority, and Node servers answer`
        : `known trap: a nested service name as grpc-go ${flavour.expected.grpc}'s default :authority is refused by Node servers`,
      async () => {
        const service = `${etcd.namespace}/nested/greeter`;
        const server = await startGreeter("node-nested");
        servers.push(server);
        registrations.push(await register({ client, service, addr: server.addr, ttl: 10 }));

        const goClient = startGoClient(service);
        const first = await goClient.waitForLine((line) => "error" in line || "server" in line);
        if (flavour.grpcEncodesAuthority) {
          expect(first).toEqual({ seq: 1, server: "node-nested" });
          expect([...server.authorities]).toEqual([service.replaceAll("/", "%2F")]);
        } else {
          expect(first["error"]).toMatch(/PROTOCOL_ERROR/);
          expect(server.calls).toBe(0);
        }
        await goClient.stop();
      },
    );
  },
);
