import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createTestCertificates,
  type EtcdServer,
  startEtcd,
  type TestCertificates,
  tlsFromCertificates,
} from "@etcd-naming/etcd-fixture";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { assertBuilt, binEnv, etcdctl, runBin } from "./test/bin.js";

// Hostile and odd input through the real bin, as a separate process: what the user sees is exactly one
// `error:` line (never a password, never a Node warning) and the exit code.
vi.setConfig({ testTimeout: 30_000 });
const etcd = useTestEtcd();
const env = (): NodeJS.ProcessEnv => binEnv({ ETCD_ENDPOINTS: etcd.endpoints.join(",") });
let dir = "";

beforeAll(() => {
  assertBuilt();
  dir = mkdtempSync(join(tmpdir(), "etcd-naming-input-"));
});
afterAll(() => {
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
});

/** Exit 2 and nothing on stderr but one error line and the command's two-line usage hint. */
function expectUsageError(
  run: { code: number | null; stdout: string; stderr: string },
  reason: RegExp,
): void {
  expect(run.code, run.stderr).toBe(2);
  expect(run.stdout).toBe("");
  const lines = run.stderr.trimEnd().split("\n");
  expect(lines[0]).toMatch(/^error: /);
  expect(lines[0]).toMatch(reason);
  expect(
    lines.slice(1).every((l) => l.startsWith("Usage: ") || l.startsWith("Run ")),
    run.stderr,
  ).toBe(true);
  expect(lines.length, run.stderr).toBeLessThanOrEqual(3);
}

describe("numeric flags out of range are usage errors", () => {
  it("a duration past a day, and one that rounds to zero", async () => {
    expectUsageError(
      await runBin(["list", "svc", "--dial-timeout", "99999999h"], env()),
      /^error: invalid --dial-timeout "99999999h": must be at most 24h$/,
    );
    expectUsageError(
      await runBin(["list", "svc", "--command-timeout", "0.1ms"], env()),
      /^error: invalid --command-timeout "0\.1ms": must be at least 1ms$/,
    );
    expectUsageError(
      await runBin(["list", "svc"], { ...env(), ETCDCTL_DIAL_TIMEOUT: "99999999h" }),
      /must be at most 24h/,
    );
  });

  it("a --ttl no timer can wait for", async () => {
    expectUsageError(
      await runBin(["register", "svc", "10.0.0.1:1", "--ttl", "99999999999"], env()),
      /^error: invalid --ttl 99999999999: must be at most 2147483 seconds/,
    );
  });
});

describe("files given to the CLI", () => {
  it("refuses a device, a FIFO without a writer and a directory, without reading them", async () => {
    const fifo = join(dir, "fifo");
    execFileSync("mkfifo", [fifo]);
    for (const [file, kind] of [
      ["/dev/zero", "a character device"],
      [fifo, "a FIFO"],
      [dir, "a directory"],
    ] as const) {
      const started = Date.now();
      const run = await runBin(["list", "svc", "--cacert", file], env(), 10_000);
      expectUsageError(
        run,
        new RegExp(`^error: cannot read --cacert file "${file}": not a regular file \\(${kind}\\)$`),
      );
      expect(Date.now() - started).toBeLessThan(5_000);
    }
  });

  it("refuses a file above the size limit", async () => {
    const big = join(dir, "big.pem");
    writeFileSync(big, Buffer.alloc(4 * 1024 * 1024 + 1, 0x41));
    expectUsageError(
      await runBin(["list", "svc", "--cert", big, "--key", big], env()),
      new RegExp(`^error: cannot read --cert file "${big}": larger than 4 MiB$`),
    );
  });
});

describe("endpoints", () => {
  it("never prints a password given in an endpoint URL", async () => {
    const secret = "pa55-in-url";
    for (const endpoint of [
      `http://user:${secret}@127.0.0.1:1`,
      `https://user:${secret}@127.0.0.1:1`,
      `user:${secret}@127.0.0.1:1`,
      `http://user:${secret}@127.0.0.1:1/path`,
      `http://user:${secret}@/`,
    ]) {
      const run = await runBin(["list", "svc", "--endpoints", endpoint, "--dial-timeout", "1s"], env());
      expectUsageError(run, /^error: invalid endpoint "[^"]*\*\*\*@/);
      expect(run.stderr + run.stdout).not.toContain(secret);
      const fromEnv = await runBin(
        ["list", "svc", "--dial-timeout", "1s"],
        binEnv({ ETCD_ENDPOINTS: endpoint }),
      );
      expect(fromEnv.code).toBe(2);
      expect(fromEnv.stderr + fromEnv.stdout).not.toContain(secret);
    }
  });

  it("rejects an empty host or a bad port before Node's dns or net module sees it", async () => {
    for (const [endpoint, reason] of [
      ["http://:2379", /no host/],
      [":2379", /no host/],
      ["127.0.0.1:99999", /port must be a number from 1 to 65535/],
      ["127.0.0.1:0", /port must be a number from 1 to 65535/],
      ["http://127.0.0.1:x", /port must be a number from 1 to 65535/],
    ] as const) {
      const run = await runBin(["list", "svc", "--endpoints", endpoint], env());
      expectUsageError(run, reason);
      expect(run.stderr).not.toMatch(/\(node:\d+\)|Warning/);
    }
  });

  it("accepts a trailing slash, as etcdctl does", async () => {
    const svc = `${etcd.namespace}/slash`;
    const url = `http://${etcd.endpoints[0]}/`;
    const add = await runBin(["add", svc, "10.0.0.1:1", "--endpoints", url], env());
    expect(add.stderr).toBe("");
    expect(add.code).toBe(0);
    expect(await etcdctl(etcd.endpoints, ["get", `${svc}/10.0.0.1:1`, "--keys-only"])).toContain(svc);
    const list = await runBin(["list", svc, "--json"], binEnv({ ETCD_ENDPOINTS: `${url},${url}` }));
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toHaveLength(1);
  });
});

describe("Node's own warnings never reach the user", () => {
  let tlsEtcd: EtcdServer | undefined;
  let certs: TestCertificates | undefined;
  afterAll(async () => {
    await tlsEtcd?.close();
    await certs?.[Symbol.asyncDispose]();
  });

  it("an https:// IP endpoint (DEP0123 on Node 22 and 24) prints only the result", async () => {
    certs = await createTestCertificates();
    tlsEtcd = await startEtcd({ tls: tlsFromCertificates(certs) });
    const url = tlsEtcd.clientUrls[0] ?? "";
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const run = await runBin(["list", "svc", "--endpoints", url, "--cacert", certs.caFile], binEnv());
    expect(run.stderr).not.toMatch(/\(node:\d+\)|DEP0123|DeprecationWarning/);
    // Node 26 refuses an IP as the TLS server name outright, inside grpc-js: then the error is one line.
    if (run.code === 0) expect(run).toMatchObject({ stdout: "no endpoints in svc\n", stderr: "" });
    else expect(run.stderr.trimEnd().split("\n")).toHaveLength(1);
  });
});
