import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { encodeEndpoint } from "@etcd-naming/codec";
import { createMemorySource } from "@etcd-naming/watcher";
import * as undici from "undici";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { createEtcdDispatcher, type EtcdDispatcher } from "./dispatcher.js";
import { NoEndpointsError } from "./errors.js";
import * as exported from "./index.js";

const quiet = { warn: () => {}, error: () => {} };
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function http(name: string): Promise<string> {
  const server: Server = createServer((req, response) => response.end(`${name} ${req.url}`));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  cleanups.push(() => server.closeAllConnections());
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function dispatcher(options: Parameters<typeof createEtcdDispatcher>[0]): EtcdDispatcher {
  const created = createEtcdDispatcher({ logger: quiet, ...options });
  cleanups.push(() => created.close());
  return created;
}

async function text(url: string, options: Parameters<typeof request>[1]): Promise<string> {
  const response = await request(url, options);
  return response.body.text();
}

describe("createEtcdDispatcher (in-memory registry)", () => {
  it("routes <service>.etcd hosts to the service, keeps the path, and sends other hosts to the fallback", async () => {
    const source = createMemorySource();
    source.put("greeter/a", encodeEndpoint({ addr: await http("greeter") }));
    const plain = await http("plain");
    const etcd = dispatcher({ source });
    expect(await text("http://greeter.etcd/hello?x=1", { dispatcher: etcd })).toBe("greeter /hello?x=1");
    expect(await text(`http://${plain}/other`, { dispatcher: etcd })).toBe("plain /other");
    expect(etcd.origins("greeter")).toHaveLength(1);
    expect(etcd.origins(plain)).toEqual([]);
  });

  it("exports undici's own request and fetch, which send through the dispatcher", async () => {
    expect(exported.request).toBe(undici.request);
    expect(exported.fetch).toBe(undici.fetch);
    const source = createMemorySource();
    source.put("greeter/a", encodeEndpoint({ addr: await http("greeter") }));
    const etcd = dispatcher({ source });
    const response = await exported.request("http://greeter.etcd/r", { dispatcher: etcd });
    expect(await response.body.text()).toBe("greeter /r");
    const fetched = await exported.fetch("http://greeter.etcd/f", { dispatcher: etcd });
    expect(await fetched.text()).toBe("greeter /f");
  });

  it("a fixed service takes every request; a custom suffix names services", async () => {
    const source = createMemorySource();
    source.put("api/a", encodeEndpoint({ addr: await http("api") }));
    expect(await text("http://anything/x", { dispatcher: dispatcher({ source, service: "api" }) })).toBe(
      "api /x",
    );
    expect(
      await text("http://api.svc.local/y", { dispatcher: dispatcher({ source, hostSuffix: ".svc.local" }) }),
    ).toBe("api /y");
  });

  it("skips an address an HTTP client cannot reach, with one warning naming its key", async () => {
    const source = createMemorySource();
    const warnings: string[] = [];
    source.put("mixed/bad", encodeEndpoint({ addr: "unix:/tmp/socket" }));
    source.put("mixed/good", encodeEndpoint({ addr: await http("good") }));
    const etcd = dispatcher({ source, logger: { warn: (_fields, message) => warnings.push(message) } });
    expect(await text("http://mixed.etcd/", { dispatcher: etcd })).toBe("good /");
    expect(await text("http://mixed.etcd/", { dispatcher: etcd })).toBe("good /");
    expect(warnings).toEqual([expect.stringContaining("mixed/bad")]);
  });

  it("an aborted request stops waiting for an endpoint at once; close() fails the ones still waiting", async () => {
    const source = createMemorySource();
    const etcd = createEtcdDispatcher({ source, logger: quiet, waitForEndpointsMs: 60_000 });
    const controller = new AbortController();
    const aborted = request("http://empty.etcd/", { dispatcher: etcd, signal: controller.signal }).catch(
      (e: unknown) => e,
    );
    const closed = request("http://empty.etcd/", { dispatcher: etcd }).catch((e: unknown) => e);
    controller.abort(new Error("changed my mind"));
    expect(await aborted).toMatchObject({ message: expect.stringMatching(/changed my mind|aborted/) });
    await etcd.close();
    const error = await closed;
    expect(error).toBeInstanceOf(NoEndpointsError);
    expect(error).toMatchObject({ service: "empty", message: expect.stringContaining("closed") });
  });

  it("refuses bad options with a clear error", () => {
    const source = createMemorySource();
    expect(() => createEtcdDispatcher({})).toThrow(/exactly one of client/);
    expect(() => createEtcdDispatcher({ source, waitForEndpointsMs: -1 })).toThrow(/waitForEndpointsMs/);
    expect(() => createEtcdDispatcher({ source, protocol: "ftp:" as "http:" })).toThrow(/protocol/);
    // Bun's built-in `import "undici"` gives an Agent without dispatch(): it would send nothing.
    const inert = {} as unknown as undici.Dispatcher;
    expect(() => createEtcdDispatcher({ source, fallback: inert })).toThrow(/fallback has no dispatch/);
  });
});
