import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { startEtcd } from "@etcd-naming/etcd-fixture";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import { type Registration, register } from "@etcd-naming/registrar";
import { Etcd3 } from "etcd3";
import { getGlobalDispatcher, request, setGlobalDispatcher, fetch as undiciFetch } from "undici";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createEtcdDispatcher, type EtcdDispatcher } from "./dispatcher.js";

const etcd = useTestEtcd();
const quiet = { warn: () => {}, error: () => {} };
const poll = { timeout: 15_000, interval: 20 };
const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const childScript = fileURLToPath(new URL("./test/child-http.ts", import.meta.url));

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface HttpServer {
  readonly name: string;
  readonly addr: string;
  readonly server: Server;
}

/** An HTTP server answering with its name. */
async function startHttp(name: string): Promise<HttpServer> {
  const server = createServer((_, response) => response.end(name));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  cleanups.push(() => server.closeAllConnections());
  return { name, addr: `127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function registered(
  client: Etcd3,
  service: string,
  http: HttpServer,
  attributes?: Record<string, string>,
): Promise<Registration> {
  const registration = await register({
    ...(attributes === undefined ? {} : { attributes }),
    client,
    service,
    addr: http.addr,
    key: `${service}/${http.name}`,
    ttl: 5,
  });
  cleanups.push(() => registration.deregister().catch(() => {}));
  return registration;
}

/** `http://<name>.etcd/` names `${namespace}/<name>`: a host cannot carry the namespace's slash. */
function dispatcherFor(client: Etcd3, extra: { waitForEndpointsMs?: number } = {}): EtcdDispatcher {
  const dispatcher = createEtcdDispatcher({
    client,
    logger: quiet,
    serviceOf: (url) =>
      url.hostname.endsWith(".etcd")
        ? `${etcd.namespace}/${url.hostname.slice(0, -".etcd".length)}`
        : undefined,
    ...extra,
  });
  cleanups.push(() => dispatcher.close());
  return dispatcher;
}

async function get(dispatcher: EtcdDispatcher, url: string): Promise<string> {
  const response = await request(url, { dispatcher });
  const body = await response.body.text();
  if (response.statusCode !== 200) throw new Error(`${url}: ${response.statusCode} ${body}`);
  return body;
}

async function spread(dispatcher: EtcdDispatcher, url: string, count: number): Promise<Map<string, number>> {
  const hits = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const name = await get(dispatcher, url);
    hits.set(name, (hits.get(name) ?? 0) + 1);
  }
  return hits;
}

describe("createEtcdDispatcher on a real etcd", () => {
  it("spreads requests over every endpoint, takes a new one without a new dispatcher, and drains without a failure", async () => {
    const client = etcd.client();
    const service = `${etcd.namespace}/api`;
    const servers = await Promise.all(["web-1", "web-2", "web-3"].map(startHttp));
    const registrations = await Promise.all(servers.map((s) => registered(client, service, s)));
    const dispatcher = dispatcherFor(client);

    const first = await spread(dispatcher, "http://api.etcd/", 30);
    expect([...first.keys()].sort()).toEqual(["web-1", "web-2", "web-3"]);

    const fourth = await startHttp("web-4");
    await registered(client, service, fourth);
    await vi.waitFor(() => expect(dispatcher.origins(service)).toHaveLength(4), poll);
    const second = await spread(dispatcher, "http://api.etcd/", 40);
    expect(second.get("web-4") ?? 0).toBeGreaterThan(0);

    // Drain web-1 (pause: its key goes, its server keeps serving) while requests keep flowing.
    const failures: string[] = [];
    let sent = 0;
    let running = true;
    const loop = (async () => {
      while (running) {
        sent++;
        await get(dispatcher, "http://api.etcd/").catch((e: Error) =>
          failures.push(`${(e as { code?: string }).code}: ${e.message}`),
        );
      }
    })();
    await registrations[0]!.pause();
    await vi.waitFor(
      () => expect(dispatcher.origins(service)).not.toContain(`http://${servers[0]!.addr}`),
      poll,
    );
    const afterDrain = sent;
    await vi.waitFor(() => expect(sent).toBeGreaterThan(afterDrain + 20), poll);
    running = false;
    await loop;
    expect(failures).toEqual([]);
    const third = await spread(dispatcher, "http://api.etcd/", 30);
    expect(third.get("web-1")).toBeUndefined();
  }, 60_000);

  it("sends nothing to an endpoint that left while a request on it is still running, and lets that request finish", async () => {
    const client = etcd.client();
    const service = `${etcd.namespace}/held`;
    // Each server holds requests for /hold until released: its undici pool stays open (closing) meanwhile.
    const held: { name: string; release: () => void }[] = [];
    const servers = await Promise.all(
      ["h-1", "h-2", "h-3"].map(async (name) => {
        const http = await startHttp(name);
        http.server.removeAllListeners("request");
        http.server.on("request", (request, response) => {
          if (request.url === "/hold") held.push({ name, release: () => response.end(name) });
          else response.end(name);
        });
        return http;
      }),
    );
    cleanups.push(() => {
      for (const request of held) request.release();
    });
    const registrations = await Promise.all(servers.map((s) => registered(client, service, s)));
    const dispatcher = dispatcherFor(client);
    await get(dispatcher, "http://held.etcd/");
    await vi.waitFor(() => expect(dispatcher.origins(service)).toHaveLength(3), poll);

    const holding = get(dispatcher, "http://held.etcd/hold");
    await vi.waitFor(() => expect(held).toHaveLength(1), poll);
    const busy = servers.findIndex((s) => s.name === held[0]!.name);
    await registrations[busy]!.pause();
    await vi.waitFor(
      () => expect(dispatcher.origins(service)).not.toContain(`http://${servers[busy]!.addr}`),
      poll,
    );

    const errors: string[] = [];
    const hits = new Map<string, number>();
    for (let i = 0; i < 30; i++) {
      await get(dispatcher, "http://held.etcd/").then(
        (name) => hits.set(name, (hits.get(name) ?? 0) + 1),
        (e: Error) => errors.push(`${(e as { code?: string }).code}: ${e.message}`),
      );
    }
    expect(errors).toEqual([]);
    expect(hits.get(servers[busy]!.name)).toBeUndefined();
    expect(hits.size).toBe(2);
    held[0]!.release();
    expect(await holding).toBe(servers[busy]!.name);
  }, 30_000);

  it("splits requests by the registry's weight attributes", async () => {
    const client = etcd.client();
    const service = `${etcd.namespace}/weighted`;
    const servers = await Promise.all(["w-1", "w-2", "w-3"].map(startHttp));
    await Promise.all(servers.map((s, i) => registered(client, service, s, { weight: i === 2 ? "2" : "1" })));
    const dispatcher = dispatcherFor(client);
    await get(dispatcher, "http://weighted.etcd/");
    await vi.waitFor(() => expect(dispatcher.origins(service)).toHaveLength(3), poll);
    const hits = await spread(dispatcher, "http://weighted.etcd/", 400);
    for (const [name, share] of [
      ["w-1", 0.25],
      ["w-2", 0.25],
      ["w-3", 0.5],
    ] as const)
      expect(Math.abs((hits.get(name) ?? 0) / 400 - share), `${name}: ${hits.get(name)}`).toBeLessThanOrEqual(
        0.03,
      );
  }, 30_000);

  it("works with undici's fetch, Node's fetch and as undici's global dispatcher", async () => {
    const client = etcd.client();
    const service = `${etcd.namespace}/fetch`;
    await registered(client, service, await startHttp("only"));
    const dispatcher = dispatcherFor(client);

    const viaUndici = await undiciFetch("http://fetch.etcd/", { dispatcher });
    expect(await viaUndici.text()).toBe("only");
    const viaNode = await fetch("http://fetch.etcd/", { dispatcher } as unknown as RequestInit);
    expect(await viaNode.text()).toBe("only");

    const before = getGlobalDispatcher();
    setGlobalDispatcher(dispatcher);
    cleanups.push(() => setGlobalDispatcher(before));
    const global = await request("http://fetch.etcd/");
    expect(await global.body.text()).toBe("only");
  }, 30_000);

  it("fails a request for a service with no endpoint after its wait, with an error naming the service", async () => {
    const dispatcher = dispatcherFor(etcd.client(), { waitForEndpointsMs: 300 });
    const started = Date.now();
    const error = await get(dispatcher, "http://nobody.etcd/").catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "ETCD_NAMING_NO_ENDPOINTS", service: `${etcd.namespace}/nobody` });
    expect((error as Error).message).toContain(`${etcd.namespace}/nobody`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  it("a request waiting for a first endpoint goes out when one registers", async () => {
    const client = etcd.client();
    const service = `${etcd.namespace}/late`;
    const dispatcher = dispatcherFor(client, { waitForEndpointsMs: 10_000 });
    const pending = get(dispatcher, "http://late.etcd/");
    await registered(client, service, await startHttp("late-1"));
    expect(await pending).toBe("late-1");
  });

  it("a SIGKILLed endpoint costs no request: unsent ones go elsewhere, and it leaves when its key expires", async () => {
    const client = etcd.client();
    const service = `${etcd.namespace}/kill`;
    await Promise.all(["k-1", "k-2"].map(async (name) => registered(client, service, await startHttp(name))));
    const child = startChild(service, "k-3", 2);
    const addr = await child.registered;
    const dispatcher = dispatcherFor(client);
    // A service is watched from its first request on.
    await get(dispatcher, "http://kill.etcd/");
    await vi.waitFor(() => expect(dispatcher.origins(service)).toHaveLength(3), poll);
    await vi.waitFor(
      async () => expect((await spread(dispatcher, "http://kill.etcd/", 9)).get("k-3")).toBeGreaterThan(0),
      poll,
    );

    child.process.kill("SIGKILL");
    await once(child.process, "exit");
    let failures = 0;
    const errors: string[] = [];
    // Until the lease expires (2 s) the dead endpoint is still listed; its requests cannot connect.
    while (dispatcher.origins(service).includes(`http://${addr}`)) {
      await get(dispatcher, "http://kill.etcd/").catch((e: Error) => {
        failures++;
        errors.push(e.message);
      });
    }
    const after = await spread(dispatcher, "http://kill.etcd/", 20);
    expect(after.get("k-3")).toBeUndefined();
    expect({ failures, errors: errors.slice(0, 3) }).toEqual({ failures: 0, errors: [] });
  }, 30_000);
});

describe("createEtcdDispatcher across an etcd restart", () => {
  it("keeps sending to the last known endpoints while etcd is down", async () => {
    const own = await startEtcd();
    cleanups.push(() => own.close());
    const client = new Etcd3({ hosts: own.endpoints });
    cleanups.push(() => client.close());
    const service = `${etcd.namespace}/restart`;
    const servers = await Promise.all(["r-1", "r-2"].map(startHttp));
    await Promise.all(servers.map((s) => registered(client, service, s)));
    const dispatcher = dispatcherFor(client);
    expect([...(await spread(dispatcher, "http://restart.etcd/", 10)).keys()].sort()).toEqual(["r-1", "r-2"]);

    await own.stop();
    expect([...(await spread(dispatcher, "http://restart.etcd/", 10)).keys()].sort()).toEqual(["r-1", "r-2"]);
    await own.start();
    expect([...(await spread(dispatcher, "http://restart.etcd/", 10)).keys()].sort()).toEqual(["r-1", "r-2"]);
  }, 60_000);
});

function startChild(service: string, name: string, ttl: number) {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      "--conditions=@etcd-naming/source",
      "--import",
      "tsx",
      childScript,
      etcd.endpoints.join(","),
      service,
      name,
      String(ttl),
    ],
    { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] },
  );
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const registered = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (line.includes('"registered"')) resolve((JSON.parse(line) as { addr: string }).addr);
    });
    child.once("exit", (code) => reject(new Error(`child exited (${code}) before registering: ${stderr}`)));
  });
  return { process: child, registered };
}
