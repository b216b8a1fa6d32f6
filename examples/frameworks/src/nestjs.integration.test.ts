// A NestJS microservices gRPC client (Transport.GRPC, registered with ClientsModule) over etcd:///: Nest
// hands its `url` to the grpc-js client constructor unchanged, so the resolver registered by
// @etcd-naming/grpc-js serves it. Only an application context is created (no HTTP server).
import "reflect-metadata";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import { registerEtcdResolver } from "@etcd-naming/grpc-js";
import { NestFactory } from "@nestjs/core";
import { type ClientGrpc, ClientsModule, Transport } from "@nestjs/microservices";
import { firstValueFrom, type Observable } from "rxjs";
import { afterAll, describe, expect, it } from "vitest";
import { protoPath, type RegisteredGreeter, startRegisteredGreeter, type WhoAmIReply } from "./greeter.js";

const etcd = useTestEtcd();
const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

interface Greeter {
  whoAmI(request: { name: string }): Observable<WhoAmIReply>;
}

describe("NestJS microservices gRPC client", () => {
  it("balances an etcd:/// url round robin over three registered servers", async () => {
    const service = `${etcd.namespace}/nest`;
    const servers: RegisteredGreeter[] = [];
    for (const id of ["a", "b", "c"]) {
      const server = await startRegisteredGreeter(etcd.client(), service, id);
      cleanups.push(() => server.close());
      servers.push(server);
    }
    const resolver = registerEtcdResolver({ client: etcd.client() });
    cleanups.push(() => resolver.close());

    const app = await NestFactory.createApplicationContext(
      ClientsModule.register([
        {
          name: "GREETER",
          transport: Transport.GRPC,
          options: { url: `etcd:///${service}`, package: "frameworks", protoPath },
        },
      ]),
      { logger: false },
    );
    cleanups.push(() => app.close());
    const greeter = app.get<ClientGrpc>("GREETER").getService<Greeter>("Greeter");
    const call = (name: string) => firstValueFrom(greeter.whoAmI({ name }));

    const deadline = Date.now() + 10_000;
    const seen = new Set<string>();
    while (seen.size < 3) {
      expect(Date.now(), `only ${[...seen]} answered`).toBeLessThan(deadline);
      seen.add((await call("warm-up")).id);
    }
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push((await call(`call ${i}`)).id);
    for (let i = 0; i + 3 <= ids.length; i++) expect(new Set(ids.slice(i, i + 3)).size).toBe(3);
    for (const id of ["a", "b", "c"]) expect(ids.filter((x) => x === id)).toHaveLength(10);
  }, 20_000);
});
