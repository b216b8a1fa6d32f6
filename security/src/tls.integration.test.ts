// TLS with a private CA, and mutual TLS, for the registrar, the watcher, the grpc-js resolver and the CLI.
import { callGreeterOnce, startGreeter } from "@etcd-naming/etcd-fixture/greeter";
import { registerEtcdResolver } from "@etcd-naming/grpc-js";
import { register } from "@etcd-naming/registrar";
import { createEtcd3Source, watchService } from "@etcd-naming/watcher";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./run-cli.js";
import { type SecureEtcd, startSecureEtcd } from "./secure-etcd.js";

const poll = { timeout: 10_000, interval: 50 };
const quiet = { warn: () => {}, info: () => {}, debug: () => {}, error: () => {} };
let caOnly: SecureEtcd;
let mutual: SecureEtcd;

beforeAll(async () => {
  [caOnly, mutual] = await Promise.all([startSecureEtcd(), startSecureEtcd({ mutual: true })]);
}, 30_000);

afterAll(async () => {
  await Promise.all([caOnly?.close(), mutual?.close()]);
});

const cases = [
  {
    name: "TLS with a private CA (--cacert)",
    etcd: () => caOnly,
    cliFlags: () => ["--cacert", caOnly.certs.caFile],
  },
  {
    name: "mutual TLS (--cacert, --cert, --key)",
    etcd: () => mutual,
    cliFlags: () => {
      const c = mutual.certs.clients["client"]!;
      return ["--cacert", mutual.certs.caFile, "--cert", c.certFile, "--key", c.keyFile];
    },
  },
];

describe.each(cases)("$name", ({ name, etcd, cliFlags }) => {
  const scheme = name.startsWith("TLS") ? "etcd-tls" : "etcd-mtls";

  it("registrar, watcher, resolver and CLI all work", { timeout: 20_000 }, async () => {
    const server = etcd();
    const client = server.client();
    const greeter = await startGreeter(scheme);
    const registration = await register({
      client,
      service: "tls/greeter",
      addr: greeter.addr,
      ttl: 2,
      logger: quiet,
    });
    const watcher = watchService(createEtcd3Source(client), "tls/greeter", { logger: quiet });
    const handle = registerEtcdResolver({ client, scheme, logger: quiet });
    try {
      await expect.poll(() => watcher.snapshot().endpoints.map((e) => e.addr), poll).toEqual([greeter.addr]);
      expect(await callGreeterOnce(`${scheme}:///tls/greeter`, { deadlineMs: 3_000 })).toBe(scheme);

      const conn = ["--endpoints", server.url, ...cliFlags()];
      const list = await runCli([...conn, "list", "tls/greeter", "--json"]);
      expect(list.stderr).toBe("");
      expect(list.code).toBe(0);
      expect(JSON.parse(list.stdout).map((e: { addr: string }) => e.addr)).toEqual([greeter.addr]);
      const add = await runCli([...conn, "add", "tls/greeter", "10.1.1.1:1"]);
      expect(add.code).toBe(0);
      await expect.poll(() => watcher.snapshot().endpoints.length, poll).toBe(2);
      const del = await runCli([...conn, "del", "tls/greeter", "10.1.1.1:1"]);
      expect(del.code).toBe(0);
      await expect.poll(() => watcher.snapshot().endpoints.length, poll).toBe(1);
    } finally {
      await watcher.close();
      await handle.close();
      await registration.deregister();
      greeter.close();
    }
  });
});

describe("refused connections fail clearly", () => {
  it("without the private CA, the server certificate is not trusted", { timeout: 15_000 }, async () => {
    const run = await runCli([
      "--endpoints",
      `https://${caOnly.endpoints[0]}`,
      "--dial-timeout",
      "1s",
      "list",
      "tls/greeter",
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/cannot reach etcd at https:\/\/127\.0\.0\.1:\d+/);
  });

  it("mutual TLS without a client certificate is refused, by the packages and the CLI", {
    timeout: 15_000,
  }, async () => {
    const client = mutual.client({ cert: false, dialTimeout: 1000 });
    const error = await register({
      client,
      service: "tls/nocert",
      addr: "10.0.0.1:1",
      ttl: 2,
      logger: quiet,
    }).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(Error);
    expect((error as { code?: string }).code).toBe("ETCD_UNAVAILABLE");
    const run = await runCli([...mutual.cliArgs(), "--dial-timeout", "1s", "list", "tls/x"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("cannot reach etcd");
  });
});
