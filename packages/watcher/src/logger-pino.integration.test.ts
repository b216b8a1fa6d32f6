import { encodeEndpoint } from "@etcd-naming/codec";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { createEtcd3Source } from "./etcd3-source.js";
import { watchService } from "./service-watcher.js";

const etcd = useTestEtcd();
const ns = etcd.namespace;
const poll = { timeout: 10_000, interval: 20 };

/** A real pino logger writing its JSON lines to memory. */
function pinoToMemory() {
  const text: string[] = [];
  const logger = pino({ level: "debug" }, { write: (line: string) => void text.push(line) });
  const lines = () => text.map((line) => JSON.parse(line) as Record<string, unknown>);
  return { logger, text, lines };
}

describe("pino as the watcher's logger", () => {
  it("gets the warning of a malformed value as JSON naming its service, key and revision", async () => {
    const client = etcd.client();
    const service = `${ns}/pino`;
    await client.put(`${service}/good`).value(encodeEndpoint({ addr: "10.0.0.1:1" }));
    const bad = await client.put(`${service}/bad`).value("{oops");
    const { logger, lines } = pinoToMemory();
    await using watcher = watchService(createEtcd3Source(client), service, { logger });
    const snapshot = await watcher.ready();
    expect(snapshot.skipped.map((k) => k.key)).toEqual([`${service}/bad`]);
    expect(lines().filter((line) => line["level"] === 40)).toEqual([
      expect.objectContaining({
        component: "watcher",
        service,
        key: `${service}/bad`,
        modRevision: bad.header.revision,
        reason: expect.stringContaining("not valid JSON"),
        msg: expect.stringContaining(`malformed value at ${service}/bad`),
      }),
    ]);
    expect(lines()).toContainEqual(
      expect.objectContaining({
        level: 20,
        component: "watcher",
        service,
        revision: snapshot.revision,
        msg: "listed",
      }),
    );
  });

  it("gets no password of a key that holds one, in any field or message", async () => {
    const client = etcd.client();
    const service = `${ns}/pino-key`;
    await client.put(`${service}/root:s3cret@10.0.0.9:80`).value("{oops");
    const { logger, text, lines } = pinoToMemory();
    await using watcher = watchService(createEtcd3Source(client), service, { logger });
    await watcher.ready();
    expect(lines().filter((line) => line["level"] === 40)).toEqual([
      expect.objectContaining({
        component: "watcher",
        service,
        // The whole word before the last "@" is masked, the service's prefix with it.
        key: "***@10.0.0.9:80",
        msg: expect.stringContaining("malformed value at ***@10.0.0.9:80"),
      }),
    ]);
    expect(text.join("")).not.toContain("s3cret");
  });

  it("gets no password of an etcd3 host given with user info, in any field or message", async () => {
    // grpc-js resolves everything before the port as a DNS name, and its error quotes the whole target.
    const client = etcd.client({ hosts: [`http://root:s3cret@${etcd.endpoints[0]}`], dialTimeout: 1_000 });
    const { logger, text, lines } = pinoToMemory();
    const service = `${ns}/pino-host`;
    await using watcher = watchService(createEtcd3Source(client), service, {
      logger,
      backoff: { initialDelayMs: 20, maxDelayMs: 40, jitter: 0 },
    });
    await expect.poll(() => lines().filter((line) => line["level"] === 40).length, poll).toBeGreaterThan(0);
    await watcher.close();
    const warning = lines().find((line) => line["level"] === 40);
    expect(warning).toMatchObject({
      component: "watcher",
      service,
      code: "SOURCE_UNAVAILABLE",
      msg: expect.stringContaining("***@"),
    });
    expect(text.join("")).not.toContain("s3cret");
  });
});
