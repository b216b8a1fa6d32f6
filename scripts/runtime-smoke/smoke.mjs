// The ESM half of the runtime smoke test, run by Bun and by Deno in a project that installed the packed
// packages from their tarballs (run.mjs drives it): import every public package, serve grpc-js, register
// the server with the registrar, see it with the watcher, call it through `etcd:///<service>` with the
// resolver and through the Connect transport (gRPC protocol, same server), send HTTP requests through the
// undici dispatcher to registered HTTP servers (spread over two, one stopped, one deregistered), and run
// the CLI's `list` on the same runtime. It prints its plan, then one JSON line per check.
import { execFile } from "node:child_process";
import { createServer } from "node:http";
import { create, createFileRegistry, fromBinary, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import * as cli from "@etcd-naming/cli";
import * as codec from "@etcd-naming/codec";
import * as connect from "@etcd-naming/connect";
import * as etcdLayer from "@etcd-naming/etcd";
import * as grpcJs from "@etcd-naming/grpc-js";
import * as registrar from "@etcd-naming/registrar";
import * as undiciAdapter from "@etcd-naming/undici";
import * as watcher from "@etcd-naming/watcher";
import * as grpc from "@grpc/grpc-js";
import { Etcd3 } from "etcd3";
import { runChecks, within } from "./checks.mjs";

const { env } = process;
const endpoints = (env["ETCD_ENDPOINTS"] ?? "").split(",").filter(Boolean);
const service = env["SMOKE_SERVICE"] ?? "smoke";
const runtime = typeof Deno !== "undefined" ? "deno" : typeof Bun !== "undefined" ? "bun" : "node";

const json = {
  serialize: (value) => Buffer.from(JSON.stringify(value)),
  deserialize: (bytes) => JSON.parse(Buffer.from(bytes).toString("utf8")),
};
const sayHello = {
  path: "/smoke.Greeter/SayHello",
  requestStream: false,
  responseStream: false,
  requestSerialize: json.serialize,
  requestDeserialize: json.deserialize,
  responseSerialize: json.serialize,
  responseDeserialize: json.deserialize,
};

// The same greeter over protobuf for the Connect transport: a hand-written descriptor, served by grpc-js.
const registry = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "smoke/echo.proto",
    package: "smoke",
    syntax: "proto3",
    messageType: [
      { name: "Text", field: [{ name: "text", number: 1, type: 9, label: 1, jsonName: "text" }] },
    ],
    service: [
      { name: "Echo", method: [{ name: "Echo", inputType: ".smoke.Text", outputType: ".smoke.Text" }] },
    ],
  }),
  () => undefined,
);
const Echo = registry.getService("smoke.Echo");
const Text = registry.getMessage("smoke.Text");
const proto = {
  serialize: (value) => Buffer.from(toBinary(Text, create(Text, value))),
  deserialize: (bytes) => fromBinary(Text, bytes),
};
const echo = {
  path: "/smoke.Echo/Echo",
  requestStream: false,
  responseStream: false,
  requestSerialize: proto.serialize,
  requestDeserialize: proto.deserialize,
  responseSerialize: proto.serialize,
  responseDeserialize: proto.deserialize,
};

const etcd = new Etcd3({ hosts: endpoints });
let server;
let addr;
let registration;
let resolver;
let client;
let serviceWatcher;
let transport;

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

// The HTTP servers the undici checks register as `<service>-http`, and their dispatcher.
const web = { service: `${service}-http`, dispatcher: undefined, servers: [], registrations: [] };

/** Starts an HTTP server answering `<name> <method> <url>` and registers it in etcd. */
async function serveHttp(name) {
  const http = createServer((req, response) => response.end(`${name} ${req.method} ${req.url}`));
  web.servers.push(http);
  await new Promise((resolve) => http.listen(0, "127.0.0.1", resolve));
  const httpAddr = `127.0.0.1:${http.address().port}`;
  const registered = await within(
    registrar.register({ client: etcd, service: web.service, addr: httpAddr, ttl: 5 }),
    10_000,
    "register",
  );
  web.registrations.push(registered);
  return { http, registered };
}

/** GET `http://<service>-http.etcd<path>` through the dispatcher: the answering server and the rest. */
async function get(path) {
  const response = await within(
    undiciAdapter.request(`http://${web.service}.etcd${path}`, { dispatcher: web.dispatcher }),
    10_000,
    "the request",
  );
  const body = await response.body.text();
  assert(response.statusCode === 200, `answered ${response.statusCode} ${body}`);
  const space = body.indexOf(" ");
  return [body.slice(0, space), body.slice(space + 1)];
}

async function until(condition, ms, what) {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function closeWeb() {
  await within(web.dispatcher?.close() ?? Promise.resolve(), 5_000, "dispatcher.close");
  for (const registered of web.registrations.splice(0))
    await within(registered.deregister(), 5_000, "deregister");
  for (const http of web.servers.splice(0)) {
    http.closeAllConnections();
    await new Promise((resolve) => http.close(() => resolve()));
  }
}

await runChecks([
  [
    "esm: import every package from dist/index.js",
    () => {
      const modules = {
        cli,
        codec,
        connect,
        etcd: etcdLayer,
        "grpc-js": grpcJs,
        registrar,
        watcher,
        undici: undiciAdapter,
      };
      for (const [name, module] of Object.entries(modules)) {
        const url = import.meta.resolve(`@etcd-naming/${name}`);
        assert(/\/dist\/index\.js$/.test(url), `@etcd-naming/${name} resolved to ${url}`);
        assert(Object.keys(module).length > 0, `@etcd-naming/${name} has no exports`);
      }
      const bytes = codec.encodeEndpoint({ addr: "10.0.0.1:80" });
      assert(bytes === '{"Op":0,"Addr":"10.0.0.1:80","Metadata":null}', `codec wrote ${bytes}`);
      return runtime;
    },
  ],
  [
    "grpc-js: serve on 127.0.0.1",
    async () => {
      server = new grpc.Server();
      server.addService(
        { sayHello },
        {
          sayHello: (call, callback) =>
            callback(null, { message: `hello ${call.request.name}`, from: runtime }),
        },
      );
      server.addService(
        { echo },
        { echo: (call, callback) => callback(null, { text: `echo ${call.request.text}` }) },
      );
      const port = await within(
        new Promise((resolve, reject) =>
          server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, p) =>
            error ? reject(error) : resolve(p),
          ),
        ),
        10_000,
        "bindAsync",
      );
      addr = `127.0.0.1:${port}`;
      return addr;
    },
  ],
  [
    "registrar: register the server with a lease",
    async () => {
      assert(addr !== undefined, "no server to register");
      registration = await within(
        registrar.register({ client: etcd, service, addr, ttl: 5 }),
        10_000,
        "register",
      );
      const stored = await etcd.get(registration.key).string();
      assert(stored === codec.encodeEndpoint({ addr }), `etcd holds ${stored}`);
      return registration.key;
    },
  ],
  [
    "watcher: sees the registered endpoint",
    async () => {
      serviceWatcher = watcher.watchService(watcher.createEtcd3Source(etcd), service);
      const addrs = await within(
        new Promise((resolve) =>
          serviceWatcher.on("update", ({ endpoints: list }) => {
            if (list.length > 0) resolve(list.map((e) => e.addr));
          }),
        ),
        10_000,
        "the watcher's first update",
      );
      assert(addrs.join() === addr, `saw ${addrs.join(",")}`);
      return addrs;
    },
  ],
  [
    `grpc-js: call through etcd:///${service}`,
    async () => {
      resolver = grpcJs.registerEtcdResolver({ client: etcd });
      const Greeter = grpc.makeGenericClientConstructor({ sayHello }, "Greeter");
      client = new Greeter(`etcd:///${service}`, grpc.credentials.createInsecure());
      const reply = await within(
        new Promise((resolve, reject) =>
          client.sayHello({ name: runtime }, { deadline: Date.now() + 10_000 }, (error, value) =>
            error ? reject(error) : resolve(value),
          ),
        ),
        15_000,
        "the call",
      );
      assert(
        reply.message === `hello ${runtime}` && reply.from === runtime,
        `reply ${JSON.stringify(reply)}`,
      );
      return reply;
    },
  ],
  [
    "undici: requests to http://<service>.etcd/ through the package's request and fetch spread over two registered HTTP servers",
    async () => {
      // On Bun `import "undici"` is a built-in module that ignores dispatchers; the package's own request()
      // and fetch() are the npm undici's, on every runtime.
      web.dispatcher = undiciAdapter.createEtcdDispatcher({ client: etcd });
      for (const name of ["one", "two"]) await serveHttp(name);
      const answered = new Set();
      const deadline = Date.now() + 15_000;
      for (let i = 0; answered.size < 2; i++) {
        assert(Date.now() < deadline, `after ${i} requests only ${[...answered].join(",")} answered`);
        const [name, rest] = await get(`/r?i=${i}`);
        assert(rest === `GET /r?i=${i}`, `answered ${name} ${rest}`);
        answered.add(name);
      }
      const fetched = await within(
        undiciAdapter.fetch(`http://${web.service}.etcd/f`, {
          dispatcher: web.dispatcher,
          method: "POST",
          body: "x",
        }),
        10_000,
        "the fetch",
      );
      const text = await fetched.text();
      assert(/^(one|two) POST \/f$/.test(text), `fetch answered ${fetched.status} ${text}`);
      return [...answered].sort().join(",");
    },
  ],
  [
    "undici: a registered server that stopped listening fails no request; a deregistered one gets none",
    async () => {
      try {
        // Registered, then stopped before any request reached it: its key stays, connections are refused,
        // and the dispatcher sends those requests to another endpoint.
        const dead = await serveHttp("dead");
        await until(() => web.dispatcher.origins(web.service).length === 3, 10_000, "three origins");
        dead.http.closeAllConnections();
        await new Promise((resolve) => dead.http.close(resolve));
        const counts = {};
        for (let i = 0; i < 20; i++) {
          const [name] = await get(`/dead?i=${i}`);
          counts[name] = (counts[name] ?? 0) + 1;
        }
        assert(counts.one > 0 && counts.two > 0 && counts.dead === undefined, JSON.stringify(counts));
        await within(web.registrations[1].deregister(), 5_000, "deregister two");
        await until(() => web.dispatcher.origins(web.service).length === 2, 10_000, "two left");
        for (let i = 0; i < 10; i++) {
          const [name] = await get(`/drained?i=${i}`);
          assert(name === "one", `request ${i} after two left answered by ${name}`);
        }
        return counts;
      } finally {
        await closeWeb();
      }
    },
  ],
  [
    "connect: call through createEtcdTransport (gRPC protocol)",
    async () => {
      transport = connect.createEtcdTransport({
        watcher: watcher.watchService(watcher.createEtcd3Source(etcd), service),
        protocol: "grpc",
      });
      const reply = await within(
        createClient(Echo, transport).echo({ text: runtime }, { timeoutMs: 10_000 }),
        15_000,
        "the Connect call",
      );
      assert(reply.text === `echo ${runtime}`, `reply ${JSON.stringify(reply)}`);
      return reply.text;
    },
  ],
  [
    "cli: etcd-naming list --json, on this runtime",
    async () => {
      const bin = new URL("bin/etcd-naming.mjs", import.meta.resolve("@etcd-naming/cli/package.json"));
      const [file, args] =
        runtime === "deno"
          ? [Deno.execPath(), ["run", "-A", bin.pathname, "list", service, "--json"]]
          : [process.execPath, [bin.pathname, "list", service, "--json"]];
      const stdout = await new Promise((resolve, reject) =>
        execFile(
          file,
          args,
          { env: { ...env, ETCD_ENDPOINTS: endpoints.join(",") }, timeout: 20_000 },
          (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out)),
        ),
      );
      const listed = JSON.parse(stdout);
      assert(listed.length === 1 && listed[0].addr === addr, `listed ${stdout}`);
      return `${file.split("/").pop()} ${listed[0].key}`;
    },
  ],
  [
    "clean up: close, deregister, shut down",
    async () => {
      client?.close();
      await within(transport?.close() ?? Promise.resolve(), 5_000, "transport.close");
      await within(resolver?.close() ?? Promise.resolve(), 5_000, "resolver.close");
      await within(serviceWatcher?.close() ?? Promise.resolve(), 5_000, "watcher.close");
      await within(registration?.deregister() ?? Promise.resolve(), 5_000, "deregister");
      await closeWeb();
      const left = await etcd.getAll().prefix(`${service}/`).keys();
      assert(left.length === 0, `keys left behind: ${left.join(",")}`);
      await within(new Promise((resolve) => server?.tryShutdown(resolve) ?? resolve()), 5_000, "tryShutdown");
      etcd.close();
    },
  ],
]);
