// 6. The known trap and its fix, on both Go flavours. etcd 3.4.23's resolver hands an endpoint's metadata to
//    grpc-go (State.Addresses[i].Metadata), and object metadata ({"zone":"a"}) makes it panic ("hash of
//    unhashable type map[string]interface {}", etcd-io/etcd#19700). etcd 3.5.30's resolver (3.5.27+ and
//    3.6.8+, etcd-io/etcd#21214) fills State.Endpoints without the metadata, and the same key is served.
//    Our registrar and CLI warn when they write object metadata (older Go clients still panic); string
//    metadata is safe on both sides; our resolver is not affected.
import { createCli } from "@etcd-naming/cli";
import { captureOutput } from "@etcd-naming/etcd-fixture";
import { type GreeterServer, greeterClient, startGreeter } from "@etcd-naming/etcd-fixture/greeter";
import { type EtcdResolverHandle, registerEtcdResolver } from "@etcd-naming/grpc-js";
import { type RegisterOptions, type Registration, register } from "@etcd-naming/registrar";
import type { Etcd3 } from "etcd3";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { GoFlavour } from "./flavours.js";
import { type GoExit, runGo } from "./go-helper.js";
import { describeGoFlavours, goChannelArgs, runGoResolve } from "./suite.js";

const PANIC = "panic: runtime error: hash of unhashable type map[string]interface {}";

/** What etcd's Go resolver hands to grpc-go for one endpoint, per flavour. */
const handedToGrpc = (flavour: GoFlavour, addr: string, metadata: unknown) =>
  flavour.resolverPassesMetadata
    ? { addresses: [{ addr, metadata }], endpoints: [] }
    : { addresses: [], endpoints: [[{ addr, metadata: null }]] };

/** The JSON lines the Go helper printed. */
const jsonLines = (output: unknown): Record<string, unknown>[] =>
  String(output)
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as Record<string, unknown>);

/** "panics on" (3.4) or "serves" (3.5.27+): what Go's resolver does with object metadata. */
const verdict = (flavour: GoFlavour) => (flavour.resolverPassesMetadata ? "panics on" : "serves");

describeGoFlavours("object metadata and etcd's Go resolver", { timeout: 60_000 }, ({ flavour, etcd, go }) => {
  let client: Etcd3;
  const registrations: Registration[] = [];
  let server: GreeterServer;
  let handle: EtcdResolverHandle;

  beforeAll(async () => {
    client = etcd.client();
    server = await startGreeter("node-1");
    handle = registerEtcdResolver({ client: etcd.client() });
  });
  afterAll(async () => {
    await Promise.all(registrations.map((r) => r.deregister()));
    await handle?.close();
    await server?.close();
  });

  /** Registers the server under `service` with `metadata`; resolves with the warnings register() logged. */
  async function registerServer(service: string, metadata: RegisterOptions["metadata"]): Promise<string[]> {
    const warnings: string[] = [];
    const logger = { warn: (_fields: Record<string, unknown>, message: string) => warnings.push(message) };
    registrations.push(await register({ client, service, addr: server.addr, metadata, ttl: 10, logger }));
    return warnings;
  }

  /** Runs Go's resolver (round_robin, as Go users dial) against the service and calls for `seconds`. */
  const goResolve = (service: string, seconds: number) =>
    runGo(
      go.binary,
      ["resolve-object-metadata", ...goChannelArgs(etcd, service, "20ms"), "-for", `${seconds}s`],
      (seconds + 20) * 1000,
    );

  /** The first state etcd's Go resolver hands to grpc-go for the service (recorded, no channel). */
  const goResolverState = (service: string) => runGoResolve({ etcd, go }, service);

  /** The Go client calling through Go's resolver and a round_robin channel ended as it must on this flavour. */
  function expectGoOutcome({ exit, output }: { exit: GoExit; output: unknown }): void {
    if (flavour.resolverPassesMetadata) {
      expect(exit.code).toBe(2); // the exit status of a Go program that died of a panic
      expect(exit.stderr).toContain(PANIC);
      expect(exit.stderr).toContain("google.golang.org/grpc/resolver.Address");
      return;
    }
    expect(exit.stderr).not.toContain("panic");
    expect(exit.code).toBe(0);
    const lines = jsonLines(output);
    expect(lines.filter((line) => "error" in line)).toEqual([]);
    expect(lines.at(-1)).toEqual({ event: "survived", answeredBy: ["node-1"] });
  }

  it(`register() warns about object metadata, and Go's resolver ${verdict(flavour)} what it wrote`, async () => {
    const service = `${etcd.namespace}/object-registrar`;
    const warnings = await registerServer(service, { zone: "a" });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`${service}/${server.addr}`);
    expect(warnings[0]).toContain("3.6.0-3.6.7");

    // 3.4 passes the object to grpc-go; 3.5.27+ leaves it out.
    expect(await goResolverState(service)).toEqual(handedToGrpc(flavour, server.addr, { zone: "a" }));
    expectGoOutcome(await goResolve(service, flavour.resolverPassesMetadata ? 15 : 3));

    // Our resolver reads the same endpoint and calls reach the server.
    const greeter = greeterClient(`etcd:///${service}`);
    try {
      await expect(greeter.whoAmI({ deadlineMs: 10_000 })).resolves.toBe("node-1");
    } finally {
      greeter.close();
    }
  });

  it(`the CLI warns when it adds object metadata, and Go's resolver ${verdict(flavour)} it`, async () => {
    const service = `${etcd.namespace}/object-cli`;
    const { code, stdout, stderr } = await captureOutput((sinks) =>
      createCli({ ...sinks, env: { ETCD_ENDPOINTS: etcd.endpoints.join(",") }, isTTY: false }).run([
        "add",
        service,
        server.addr,
        "--metadata",
        '{"zone":"a"}',
      ]),
    );
    expect({ code, stdout }).toEqual({ code: 0, stdout: expect.stringContaining(`added ${service}/`) });
    expect(stderr).toMatch(
      /^warning: object metadata makes etcd's Go resolver 3\.4\.x, 3\.5\.0-3\.5\.26 and 3\.6\.0-3\.6\.7 panic/,
    );

    expectGoOutcome(await goResolve(service, flavour.resolverPassesMetadata ? 15 : 3));
  });

  it("string metadata: no warning, and Go's resolver serves calls with it", async () => {
    const service = `${etcd.namespace}/string-metadata`;
    const warnings = await registerServer(service, "zone=a");
    expect(warnings).toEqual([]);
    expect(await goResolverState(service)).toEqual(handedToGrpc(flavour, server.addr, "zone=a"));

    const { exit, output } = await goResolve(service, 2);
    expect(exit.stderr).not.toContain("panic");
    expect(exit.code).toBe(0);
    const lines = jsonLines(output);
    expect(lines.at(-1)).toEqual({ event: "survived", answeredBy: ["node-1"] });
  });
});
