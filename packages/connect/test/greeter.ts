// The test Greeter: a hand-written descriptor (no code generation) for `test.Greeter/WhoAmI`, and a Connect
// server on node:http2 (gRPC, gRPC-Web and Connect at once) that answers with its id and can register
// itself through the registrar. Also run as a child process (`child.ts`) for the SIGKILL test.
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { create, createFileRegistry, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { connectNodeAdapter } from "@connectrpc/connect-node";

const file = create(FileDescriptorProtoSchema, {
  name: "test/greeter.proto",
  package: "test",
  syntax: "proto3",
  messageType: [
    { name: "WhoAmIRequest", field: [{ name: "name", number: 1, type: 9, label: 1, jsonName: "name" }] },
    { name: "WhoAmIReply", field: [{ name: "id", number: 1, type: 9, label: 1, jsonName: "id" }] },
  ],
  service: [
    {
      name: "Greeter",
      method: [{ name: "WhoAmI", inputType: ".test.WhoAmIRequest", outputType: ".test.WhoAmIReply" }],
    },
  ],
});

export const Greeter = createFileRegistry(file, () => undefined).getService("test.Greeter") as DescService;

export interface ConnectGreeter {
  readonly id: string;
  readonly addr: string;
  readonly calls: number;
  /** HTTP/2 sessions clients hold open to it. */
  readonly openSessions: number;
  close(): Promise<void>;
}

/** Starts a Connect greeter on 127.0.0.1; `delayMs` holds every answer back that long. */
export async function startConnectGreeter(id: string, delayMs = 0): Promise<ConnectGreeter> {
  let calls = 0;
  const handler = connectNodeAdapter({
    routes: (router) =>
      router.service(Greeter, {
        whoAmI: async () => {
          calls++;
          if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
          return { id };
        },
      } as never),
  });
  const server = http2.createServer(handler);
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const addr = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    id,
    addr,
    get calls() {
      return calls;
    },
    get openSessions() {
      return sessions.size;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Sessions that stay open (clients keep them for reuse) would hold close() back.
        for (const session of sessions) session.close();
      }),
  };
}
