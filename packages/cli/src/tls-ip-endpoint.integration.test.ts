import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { startTlsEtcd, type TlsEtcd } from "@etcd-naming/etcd-fixture";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { assertBuilt, type BinResult, binEnv, runBin } from "./test/bin.js";

// TLS to an etcd addressed by IP (`https://127.0.0.1:PORT`) through the real bin, on the Node the tests run
// on: grpc-js passes the IP as the TLS server name, which Node 22 and 24 send with a warning and Node 26
// refuses outright (ERR_INVALID_ARG_VALUE). The test command runs this file on Node 22, 24 and 26.
vi.setConfig({ testTimeout: 30_000 });
const run = promisify(execFile);

let caOnly: TlsEtcd | undefined;
let mutualAuth: TlsEtcd | undefined;
const password = `root-secret-${randomBytes(6).toString("hex")}`;

beforeAll(async () => {
  assertBuilt();
  [caOnly, mutualAuth] = await Promise.all([
    startTlsEtcd({ clients: ["root"] }),
    startTlsEtcd({ clients: ["root"], clientCertAuth: true, client: "root" }),
  ]);
  // Authentication on, as SECURITY.md documents it; etcdctl authenticates by its certificate (CN root).
  const { certs, url } = mutualAuth;
  const root = certs.clients["root"]!;
  const etcdctl = (args: string[]) =>
    run(
      "/usr/bin/etcdctl",
      [
        `--endpoints=${url}`,
        `--cacert=${certs.caFile}`,
        `--cert=${root.certFile}`,
        `--key=${root.keyFile}`,
        ...args,
      ],
      { env: { ...binEnv(), ETCDCTL_API: "3" }, timeout: 10_000 },
    );
  await etcdctl(["user", "add", "root", `--new-user-password=${password}`]);
  await etcdctl(["role", "add", "root"]);
  await etcdctl(["user", "grant-role", "root", "root"]);
  await etcdctl(["auth", "enable"]);
}, 60_000);

afterAll(async () => {
  await Promise.all([caOnly?.close(), mutualAuth?.close()]);
});

function ipUrl(tls: TlsEtcd | undefined): string {
  const url = tls?.url ?? "";
  expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  return url;
}

/** Exactly one `error:` line on stderr, nothing on stdout, exit 1. */
function expectOneLineError(result: BinResult, reason: RegExp): void {
  expect(result.stdout).toBe("");
  expect(result.stderr.trimEnd().split("\n"), result.stderr).toHaveLength(1);
  expect(result.stderr).toMatch(/^error: cannot reach etcd at https:\/\/127\.0\.0\.1:\d+ /);
  expect(result.stderr).toMatch(reason);
  expect(result.code).toBe(1);
}

describe(`TLS to https://127.0.0.1 on Node ${process.versions.node}`, () => {
  it("list with --cacert connects and prints only the result (no DEP0123, no servername error)", async () => {
    const result = await runBin(
      ["list", "svc", "--endpoints", ipUrl(caOnly), "--cacert", caOnly!.certs.caFile],
      binEnv(),
    );
    expect(result).toMatchObject({ code: 0, stdout: "no endpoints in svc\n", stderr: "" });
  });

  it("mutual TLS with a user: add, then list (the login uses its own channel)", async () => {
    const { certs } = mutualAuth!;
    const root = certs.clients["root"]!;
    const conn = [
      "--endpoints",
      ipUrl(mutualAuth),
      "--cacert",
      certs.caFile,
      "--cert",
      root.certFile,
      "--key",
      root.keyFile,
      "--user",
      "root",
    ];
    const env = binEnv({ ETCD_PASSWORD: password });
    const add = await runBin([...conn, "add", "tls/ip", "10.0.0.1:80"], env);
    expect(add.stderr).toBe("");
    expect(add.code).toBe(0);
    const list = await runBin([...conn, "list", "tls/ip", "--json"], env);
    expect(list.stderr).toBe("");
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout).map((e: { addr: string }) => e.addr)).toEqual(["10.0.0.1:80"]);
  });

  it("the certificate is still verified: without the private CA the connection is refused", async () => {
    // The CLI then trusts Node's built-in roots, which do not include the test CA.
    const result = await runBin(
      ["list", "svc", "--endpoints", ipUrl(caOnly), "--dial-timeout", "3s"],
      binEnv(),
    );
    expectOneLineError(result, /unable to verify the first certificate/);
  });

  it("--insecure-skip-tls-verify connects without the CA; --insecure-transport refuses https://", async () => {
    const url = ipUrl(caOnly);
    const skip = await runBin(["list", "svc", "--endpoints", url, "--insecure-skip-tls-verify"], binEnv());
    expect(skip).toMatchObject({ code: 0, stdout: "no endpoints in svc\n", stderr: "" });
    const plain = await runBin(["list", "svc", "--endpoints", url, "--insecure-transport"], binEnv());
    expect(plain).toMatchObject({ code: 2, stdout: "" });
    expect(plain.stderr.split("\n")[0]).toBe(
      "error: --insecure-transport refuses the https:// endpoints of --endpoints",
    );
  });

  it("--password goes with --user name, and is never printed", async () => {
    const { certs } = mutualAuth!;
    const root = certs.clients["root"]!;
    const conn = ["--endpoints", ipUrl(mutualAuth), "--cacert", certs.caFile, "--cert", root.certFile];
    const ok = await runBin(
      ["list", "tls/ip", ...conn, "--key", root.keyFile, "--user", "root", "--password", password],
      binEnv(),
    );
    expect(ok).toMatchObject({ code: 0, stderr: "" });
    const wrong = await runBin(
      ["list", "tls/ip", ...conn, "--key", root.keyFile, "--user", "root", "--password", "nope-x1"],
      binEnv(),
    );
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^error: etcd rejected the credentials of user "root"/);
    expect(wrong.stderr).not.toContain("nope-x1");
  });

  it("a client certificate is still required where etcd asks for one", async () => {
    const result = await runBin(
      [
        "list",
        "svc",
        "--endpoints",
        ipUrl(mutualAuth),
        "--cacert",
        mutualAuth!.certs.caFile,
        "--dial-timeout",
        "3s",
      ],
      binEnv({ ETCD_PASSWORD: password }),
    );
    expect(result.code).not.toBe(0);
    expect(result.stdout).toBe("");
    expect(result.stderr.trimEnd().split("\n"), result.stderr).toHaveLength(1);
    expect(result.stderr).not.toMatch(/servername|ERR_INVALID_ARG_VALUE/);
  });
});
