import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTlsEtcd, type TlsEtcd } from "@etcd-naming/etcd-fixture";
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
    const [tooLong, tooShort, fromEnv] = await Promise.all([
      runBin(["list", "svc", "--dial-timeout", "99999999h"], env()),
      runBin(["list", "svc", "--command-timeout", "0.1ms"], env()),
      runBin(["list", "svc"], { ...env(), ETCDCTL_DIAL_TIMEOUT: "99999999h" }),
    ]);
    expectUsageError(tooLong, /^error: invalid --dial-timeout "99999999h": must be at most 24h$/);
    expectUsageError(tooShort, /^error: invalid --command-timeout "0\.1ms": must be at least 1ms$/);
    expectUsageError(fromEnv, /must be at most 24h/);
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
    const cases = [
      ["/dev/zero", "a character device"],
      [fifo, "a FIFO"],
      [dir, "a directory"],
    ] as const;
    // Before the fix /dev/zero grew the process past 1.5 GB and the FIFO hung it: runBin gives up after
    // 15 s and fails the test.
    const runs = await Promise.all(
      cases.map(([file]) => runBin(["list", "svc", "--cacert", file], env(), 15_000)),
    );
    for (const [i, [file, kind]] of cases.entries()) {
      expectUsageError(
        runs[i]!,
        new RegExp(`^error: cannot read --cacert file "${file}": not a regular file \\(${kind}\\)$`),
      );
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
  // The whole grammar is covered in-process (connection.test.ts); the bin gets one case of each kind.
  it("never prints a password given in an endpoint URL", async () => {
    const secret = "pa55-in-url";
    const runs = await Promise.all([
      runBin(["list", "svc", "--endpoints", `http://user:${secret}@127.0.0.1:1`], env()),
      runBin(["list", "svc", "--endpoints", `http://user:${secret}@127.0.0.1:1/path`], env()),
      runBin(["list", "svc"], binEnv({ ETCD_ENDPOINTS: `user:${secret}@127.0.0.1:1` })),
    ]);
    for (const run of runs) {
      expectUsageError(
        run,
        /^error: invalid endpoint "[^"]*\*\*\*@127\.0\.0\.1:1[^"]*" in (--endpoints|ETCD_ENDPOINTS)/,
      );
      expect(run.stderr + run.stdout).not.toContain(secret);
    }
  });

  it("rejects an empty host or a bad port before Node's dns or net module sees it", async () => {
    const [emptyHost, badPort] = await Promise.all([
      runBin(["list", "svc", "--endpoints", "http://:2379"], env()),
      runBin(["list", "svc", "--endpoints", "127.0.0.1:99999"], env()),
    ]);
    expectUsageError(emptyHost, /^error: invalid endpoint "http:\/\/:2379" in --endpoints: no host/);
    expectUsageError(badPort, /port must be a number from 1 to 65535/);
    for (const run of [emptyHost, badPort]) expect(run.stderr).not.toMatch(/\(node:\d+\)|Warning/);
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
  let tlsEtcd: TlsEtcd | undefined;
  afterAll(async () => {
    await tlsEtcd?.close();
  });

  it("an https:// IP endpoint prints only the result (no DEP0123)", async () => {
    tlsEtcd = await startTlsEtcd();
    const url = tlsEtcd.url;
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const run = await runBin(["list", "svc", "--endpoints", url, "--cacert", tlsEtcd.certs.caFile], binEnv());
    expect(run.stderr).not.toMatch(/\(node:\d+\)|DEP0123|DeprecationWarning/);
    // It connects on Node 26 too (which refuses an IP as the TLS server name): tls-ip-endpoint tests.
    expect(run).toMatchObject({ code: 0, stdout: "no endpoints in svc\n", stderr: "" });
  });
});
