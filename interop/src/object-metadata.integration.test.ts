// 6. The known trap, reproduced with etcd 3.4.23's resolver: object metadata ({"zone":"a"}) makes Go's
//    resolver panic ("hash of unhashable type map[string]interface {}", etcd-io/etcd#19700; Go stopped passing
//    metadata to gRPC in 3.5.27/3.6.8). Our registrar and CLI warn when they write it; string metadata is safe
//    on both sides; our resolver is not affected.
import { createCli } from "@etcd-naming/cli";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import { type EtcdResolverHandle, registerEtcdResolver } from "@etcd-naming/grpc-js";
import { type Registration, register } from "@etcd-naming/registrar";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runGo } from "./go-helper.js";
import { type NodeGreeter, nodeGreeterClient, startNodeGreeter } from "./greeter.js";
import { goSkipReason, useGoHelper } from "./suite.js";

const etcd = useTestEtcd();

const PANIC = "panic: runtime error: hash of unhashable type map[string]interface {}";

describe.skipIf(goSkipReason !== undefined)(
  "object metadata and etcd 3.4's Go resolver",
  { timeout: 60_000 },
  () => {
    const go = useGoHelper();
    const client = etcd.client();
    const registrations: Registration[] = [];
    let server: NodeGreeter;
    let handle: EtcdResolverHandle;

    beforeAll(async () => {
      server = await startNodeGreeter("node-1");
      handle = registerEtcdResolver({ client: etcd.client() });
    });
    afterAll(async () => {
      await Promise.all(registrations.map((r) => r.deregister()));
      await handle?.close();
      await server?.close();
    });

    /** Runs Go's resolver (round_robin, as Go users dial) against the service and calls for `seconds`. */
    const goResolve = (service: string, seconds: number) =>
      runGo(
        go.binary,
        [
          "resolve-object-metadata",
          "-endpoints",
          etcd.endpoints.join(","),
          "-target",
          `etcd:///${service}`,
          "-authority",
          service.replaceAll("/", "."),
          "-interval",
          "20ms",
          "-for",
          `${seconds}s`,
        ],
        (seconds + 20) * 1000,
      );

    it("register() warns about object metadata, and Go's resolver panics on what it wrote", async () => {
      const service = `${etcd.namespace}/object-registrar`;
      const warnings: string[] = [];
      registrations.push(
        await register({
          client,
          service,
          addr: server.addr,
          metadata: { zone: "a" },
          ttl: 10,
          logger: { warn: (message) => warnings.push(message) },
        }),
      );
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(`${service}/${server.addr}`);
      expect(warnings[0]).toContain("3.6.0-3.6.7");

      const { exit } = await goResolve(service, 15);
      expect(exit.code).toBe(2); // the exit status of a Go program that died of a panic
      expect(exit.stderr).toContain(PANIC);
      expect(exit.stderr).toContain("google.golang.org/grpc/resolver.Address");

      // Our resolver reads the same endpoint and calls reach the server.
      const greeter = nodeGreeterClient(`etcd:///${service}`);
      try {
        await expect(greeter.whoAmI(10_000)).resolves.toBe("node-1");
      } finally {
        greeter.close();
      }
    });

    it("the CLI warns when it adds object metadata, and Go's resolver panics on it", async () => {
      const service = `${etcd.namespace}/object-cli`;
      let stdout = "";
      let stderr = "";
      const cli = createCli({
        stdout: { write: (chunk) => (stdout += chunk) },
        stderr: { write: (chunk) => (stderr += chunk) },
        env: { ETCD_ENDPOINTS: etcd.endpoints.join(",") },
        isTTY: false,
      });
      const code = await cli.run(["add", service, server.addr, "--metadata", '{"zone":"a"}']);
      expect({ code, stdout }).toEqual({ code: 0, stdout: expect.stringContaining(`added ${service}/`) });
      expect(stderr).toMatch(
        /^warning: object metadata makes etcd's Go resolver 3\.4\.x, 3\.5\.0-3\.5\.26 and 3\.6\.0-3\.6\.7 panic/,
      );

      const { exit } = await goResolve(service, 15);
      expect(exit.code).toBe(2);
      expect(exit.stderr).toContain(PANIC);
    });

    it("string metadata: no warning, and Go's resolver serves calls with it", async () => {
      const service = `${etcd.namespace}/string-metadata`;
      const warnings: string[] = [];
      registrations.push(
        await register({
          client,
          service,
          addr: server.addr,
          metadata: "zone=a",
          ttl: 10,
          logger: { warn: (message) => warnings.push(message) },
        }),
      );
      expect(warnings).toEqual([]);

      const { exit, output } = await goResolve(service, 2);
      expect(exit.stderr).not.toContain("panic");
      expect(exit.code).toBe(0);
      const lines = String(output)
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(lines.at(-1)).toEqual({ event: "survived", answeredBy: ["node-1"] });
    });
  },
);
