import { spawn } from "node:child_process";
import { accessSync, constants, readFileSync } from "node:fs";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import { describe, expect, it, vi } from "vitest";
import { BIN, binEnv, binStarter, etcdctl, type RunningBin, runBin } from "./test/bin.js";

// Every command through the real bin, as a separate process, against a real etcd.
// Each test spawns several processes (about 0.2 s each) and the expiry test waits out a 5 s lease.
vi.setConfig({ testTimeout: 30_000 });
const etcd = useTestEtcd();
const env = (): NodeJS.ProcessEnv => binEnv({ ETCD_ENDPOINTS: etcd.endpoints.join(",") });
let serial = 0;
const service = (): string => `${etcd.namespace}/svc-${++serial}`;

const start = binStarter(env);

describe("the bin", () => {
  it("is an executable node script that prints the version", async () => {
    accessSync(BIN, constants.X_OK);
    expect(readFileSync(BIN, "utf8")).toMatch(/^#!\/usr\/bin\/env node\n/);
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
      version: string;
      bin: Record<string, string>;
    };
    expect(pkg.bin).toEqual({ "etcd-naming": "./bin/etcd-naming.mjs" });
    // Run through its shebang, the way a package manager's link runs it.
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn(BIN, ["--version"], { env: binEnv() });
      let out = "";
      child.stdout.setEncoding("utf8").on("data", (s: string) => (out += s));
      child.on("error", reject);
      child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}`))));
    });
    expect(output).toBe(`${pkg.version}\n`);
  });

  it("prints help with exit 0 and usage errors with exit 2", async () => {
    const help = await runBin(["--help"], env());
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: etcd-naming [options] [command]");
    const bad = await runBin(["add", service(), "1.2.3.4:1", "--metadata", "{nope"], env());
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe("");
    const lines = bad.stderr.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^error: invalid --metadata: not JSON/);
    expect(lines[1]).toBe("Usage: etcd-naming add [options] <service> <addr>");
  });

  it("answers help and help <command> with exit 0, and help of no command with one error line", async () => {
    const root = await runBin(["help"], env());
    expect(root).toMatchObject({ code: 0, stderr: "" });
    expect(root.stdout).toContain("Usage: etcd-naming [options] [command]");
    const list = await runBin(["help", "list"], env());
    expect(list).toMatchObject({ code: 0, stderr: "" });
    expect(list.stdout).toContain("Usage: etcd-naming list [options] <service>");
    const proto = await runBin(["help", "__proto__"], env());
    expect(proto).toMatchObject({ code: 2, stdout: "" });
    expect(proto.stderr.split("\n")[0]).toBe(
      'error: unknown command "__proto__"; commands are add, register, del, get, list, services, watch, lease, pause, resume, version, completion',
    );
    const none = await runBin([], env());
    expect(none).toMatchObject({ code: 2, stdout: "" });
    expect(none.stderr.split("\n")[0]).toBe(
      "error: missing command; commands are add, register, del, get, list, services, watch, lease, pause, resume, version, completion",
    );
  });

  it("prints shell completion scripts, which bash loads, and refuses an unknown shell with exit 2", async () => {
    const bash = await runBin(["completion", "bash"], binEnv());
    expect({ code: bash.code, stderr: bash.stderr }).toEqual({ code: 0, stderr: "" });
    const loaded = await new Promise<string>((resolve, reject) => {
      const child = spawn("bash", ["-c", `${bash.stdout}\ncomplete -p etcd-naming`]);
      let out = "";
      child.stdout.setEncoding("utf8").on("data", (s: string) => (out += s));
      child.on("error", reject);
      child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`bash exited ${code}`))));
    });
    expect(loaded).toBe("complete -o default -F _etcd_naming etcd-naming\n");
    for (const shell of ["zsh", "fish"]) {
      const script = await runBin(["completion", shell], binEnv());
      expect(script.code).toBe(0);
      expect(script.stdout).toContain("etcd-naming");
    }
    const tcsh = await runBin(["completion", "tcsh"], binEnv());
    expect(tcsh.code).toBe(2);
    expect(tcsh.stderr.split("\n")[0]).toBe('error: unknown shell "tcsh": expected bash, zsh or fish');
  });

  it("keeps its exit code when the reader of its output has gone", async () => {
    // `true` ends before the bin writes, so every write meets a closed pipe (EPIPE).
    const closed = async (args: string[]): Promise<number | null> => {
      const child = spawn("bash", ["-c", 'set -o pipefail; node "$@" 2>&1 | true', "bash", BIN, ...args], {
        env: env(),
        stdio: "ignore",
      });
      return new Promise((resolve) => child.on("exit", (code) => resolve(code)));
    };
    expect(await closed(["bogus"])).toBe(2);
    expect(await closed(["add", service(), "1.2.3.4:1", "--metadata", "{nope"])).toBe(2);
    expect(await closed(["--help"])).toBe(0);
  });

  it("exits 1 within the dial timeout when etcd is unreachable", async () => {
    const started = Date.now();
    const run = await runBin(
      ["list", "svc", "--dial-timeout", "1s"],
      binEnv({ ETCD_ENDPOINTS: "127.0.0.1:1" }),
    );
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toMatch(
      /^error: cannot reach etcd at 127\.0\.0\.1:1 \(tried 127\.0\.0\.1:1 from ETCD_ENDPOINTS\): .+ Pass --endpoints or set ETCD_ENDPOINTS\.\n$/,
    );
    expect(Date.now() - started).toBeLessThan(8_000);
  });
});

describe("add", () => {
  it("writes Go's exact bytes, which etcdctl reads back", async () => {
    const svc = service();
    const run = await runBin(["add", svc, "1.2.3.4:50051", "--metadata", '"zone-a"'], env());
    expect(run.code).toBe(0);
    expect(run.stderr).toBe("");
    expect(run.stdout).toMatch(
      new RegExp(`^added ${svc}/1\\.2\\.3\\.4:50051 1\\.2\\.3\\.4:50051 "zone-a" \\(revision \\d+\\)\\n$`),
    );
    const value = await etcdctl(etcd.endpoints, ["get", `${svc}/1.2.3.4:50051`, "--print-value-only"]);
    expect(value).toBe('{"Op":0,"Addr":"1.2.3.4:50051","Metadata":"zone-a"}\n');
    const lease = await etcdctl(etcd.endpoints, ["get", `${svc}/1.2.3.4:50051`, "-w", "json"]);
    expect(JSON.parse(lease).kvs[0].lease).toBeUndefined();
  });

  it("sorts object metadata like Go, warns about Go's resolver, and reports JSON", async () => {
    const svc = service();
    const run = await runBin(
      [
        "add",
        svc,
        "10.0.0.7:8080",
        "--metadata",
        '{"zone":"a","weight":3}',
        "--id",
        `${svc}/instance-1`,
        "--json",
      ],
      env(),
    );
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(
      /^warning: object metadata makes etcd's Go resolver 3\.4\.x, 3\.5\.0-3\.5\.26 and 3\.6\.0-3\.6\.7 panic \(etcd-io\/etcd#19700\)/,
    );
    expect(JSON.parse(run.stdout)).toEqual({
      key: `${svc}/instance-1`,
      addr: "10.0.0.7:8080",
      metadata: { zone: "a", weight: 3 },
      modRevision: expect.any(Number),
    });
    const value = await etcdctl(etcd.endpoints, ["get", `${svc}/instance-1`, "--print-value-only"]);
    expect(value).toBe('{"Op":0,"Addr":"10.0.0.7:8080","Metadata":{"weight":3,"zone":"a"}}\n');
  });

  it("warns on stderr, and still writes, an address the resolver cannot dial", async () => {
    const svc = service();
    for (const addr of ["10.0.0.1:99999", "http://x"]) {
      const run = await runBin(["add", svc, addr], env());
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^added /);
      expect(run.stderr).toBe(
        `warning: gRPC clients cannot dial ${JSON.stringify(addr)} (expected host:port with a port from 1 to 65535, ` +
          `[IPv6]:port or unix:/path): the etcd:///${svc} resolver will skip it\n`,
      );
    }
    const quiet = await runBin(["add", svc, "10.0.0.1:99999", "--quiet"], env());
    expect(quiet).toMatchObject({ code: 0, stderr: "" });
    const fine = await runBin(["add", svc, "[::1]:50051"], env());
    expect(fine).toMatchObject({ code: 0, stderr: "" });
  });
});

describe("list", () => {
  it("shows what etcdctl wrote, leases with TTL, and malformed values apart", async () => {
    const svc = service();
    await etcdctl(etcd.endpoints, ["put", `${svc}/1.2.3.4`, '{"Addr":"1.2.3.4","Metadata":"..."}']);
    await etcdctl(etcd.endpoints, ["put", `${svc}/broken`, "1.2.3.4:50051"]);
    const grantedAt = Date.now();
    const granted = await etcdctl(etcd.endpoints, ["lease", "grant", "60"]);
    const lease = /lease ([0-9a-f]+) granted/.exec(granted)?.[1] ?? "";
    await etcdctl(etcd.endpoints, [
      "put",
      `--lease=${lease}`,
      `${svc}/leased`,
      '{"Op":0,"Addr":"9.9.9.9:1"}',
    ]);
    try {
      const table = await runBin(["list", svc], env());
      // The TTL left: 60 s less what has passed since the grant (a loaded machine takes seconds).
      const passed = Math.ceil((Date.now() - grantedAt) / 1000);
      expect(table.code).toBe(0);
      expect(table.stderr).toBe("");
      const lines = table.stdout.trimEnd().split("\n");
      expect(lines[0]).toMatch(/^KEY\s+ADDRESS\s+METADATA\s+LEASE\s+TTL$/);
      expect(lines[1]).toMatch(
        new RegExp(`^${svc}/1\\.2\\.3\\.4\\s+1\\.2\\.3\\.4\\s+"\\.\\.\\."\\s+-\\s+-$`),
      );
      const leased = new RegExp(`^${svc}/leased\\s+9\\.9\\.9\\.9:1\\s+-\\s+${lease}\\s+(\\d+)s$`);
      expect(lines[2]).toMatch(leased);
      const ttl = Number(leased.exec(lines[2] ?? "")?.[1]);
      expect(ttl).toBeLessThanOrEqual(60);
      expect(ttl).toBeGreaterThanOrEqual(60 - passed - 1);
      expect(lines[3]).toBe("");
      expect(lines[4]).toBe("skipped 1 malformed value:");
      expect(lines[6]).toMatch(new RegExp(`^  ${svc}/broken\\s+value is not valid JSON`));

      const json = await runBin(["list", svc, "--json"], env());
      expect(json.code).toBe(0);
      const listed = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
      expect(listed).toEqual([
        {
          key: `${svc}/1.2.3.4`,
          addr: "1.2.3.4",
          metadata: "...",
          attributes: {},
          modRevision: expect.any(Number),
          createRevision: expect.any(Number),
          version: 1,
        },
        {
          key: `${svc}/leased`,
          addr: "9.9.9.9:1",
          metadata: null,
          attributes: {},
          lease,
          ttl: expect.any(Number),
          modRevision: expect.any(Number),
          createRevision: expect.any(Number),
          version: 1,
        },
      ]);
      expect(JSON.parse(json.stderr)).toEqual({
        skipped: [
          {
            key: `${svc}/broken`,
            reason: expect.stringContaining("not valid JSON"),
            code: "INVALID_JSON",
            modRevision: expect.any(Number),
          },
        ],
      });
      expect(json.stdout).not.toContain("\u001b[");
    } finally {
      await etcdctl(etcd.endpoints, ["lease", "revoke", lease]);
    }
  });

  it("prints an empty array or a plain line when the service has no endpoints", async () => {
    const svc = service();
    const json = await runBin(["list", svc, "--json"], env());
    expect({ code: json.code, stdout: JSON.parse(json.stdout), stderr: json.stderr }).toEqual({
      code: 0,
      stdout: [],
      stderr: "",
    });
    const table = await runBin(["list", svc], env());
    expect(table.stdout).toBe(`no endpoints in ${svc}\n`);
  });
});

describe("del", () => {
  it("removes one endpoint by address or by key, and fails with 1 when there is none", async () => {
    const svc = service();
    await runBin(["add", svc, "1.2.3.4:1"], env());
    await runBin(["add", svc, "1.2.3.4:2"], env());
    const byAddr = await runBin(["del", svc, "1.2.3.4:1"], env());
    expect(byAddr).toMatchObject({ code: 0, stdout: `deleted ${svc}/1.2.3.4:1\n`, stderr: "" });
    const byKey = await runBin(["del", svc, `${svc}/1.2.3.4:2`, "--json"], env());
    expect(byKey.code).toBe(0);
    expect(JSON.parse(byKey.stdout)).toEqual({ deleted: [`${svc}/1.2.3.4:2`] });
    expect(await etcdctl(etcd.endpoints, ["get", "--prefix", `${svc}/`, "--keys-only"])).toBe("");
    const again = await runBin(["del", svc, "1.2.3.4:1"], env());
    expect(again).toMatchObject({
      code: 1,
      stdout: "",
      stderr: `error: no endpoint "1.2.3.4:1" in ${svc}\n`,
    });
  });

  it("--all --yes removes every key of the service, and only of that service", async () => {
    const svc = service();
    const neighbour = `${svc}-2`;
    await runBin(["add", svc, "1.2.3.4:1"], env());
    await etcdctl(etcd.endpoints, ["put", `${svc}/junk`, "not json"]);
    await runBin(["add", neighbour, "1.2.3.4:1"], env());
    const run = await runBin(["del", svc, "--all", "--yes"], env());
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`deleted ${svc}/1.2.3.4:1\ndeleted ${svc}/junk\n`);
    expect(await etcdctl(etcd.endpoints, ["get", "--prefix", `${svc}/`, "--keys-only"])).toBe("");
    expect(await etcdctl(etcd.endpoints, ["get", `${neighbour}/1.2.3.4:1`, "--keys-only"])).toContain(
      neighbour,
    );
    const empty = await runBin(["del", svc, "--all", "--yes"], env());
    expect(empty).toMatchObject({ code: 1, stderr: `error: no endpoints in ${svc}\n` });
  });
});

describe("watch", () => {
  it("prints the current set, then one NDJSON line per change, and exits 0 on SIGINT", async () => {
    const svc = service();
    await runBin(["add", svc, "1.2.3.4:1", "--metadata", '"a"'], env());
    const watch = start(["watch", svc, "--json"]);
    await expect.poll(() => watch.lines().length, { timeout: 10_000 }).toBe(1);
    expect(JSON.parse(watch.lines()[0] ?? "")).toEqual({
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      op: "add",
      key: `${svc}/1.2.3.4:1`,
      addr: "1.2.3.4:1",
      metadata: "a",
      revision: expect.any(Number),
    });

    await etcdctl(etcd.endpoints, ["put", `${svc}/5.6.7.8:9`, '{"Addr":"5.6.7.8:9"}']);
    await expect.poll(() => watch.lines().length, { timeout: 10_000 }).toBe(2);
    await runBin(["add", svc, "1.2.3.4:1", "--metadata", '"b"'], env());
    await expect.poll(() => watch.lines().length, { timeout: 10_000 }).toBe(3);
    await etcdctl(etcd.endpoints, ["del", `${svc}/5.6.7.8:9`]);
    await expect.poll(() => watch.lines().length, { timeout: 10_000 }).toBe(4);

    const events = watch.lines().map((l) => JSON.parse(l) as Record<string, unknown>);
    const times = events.map((e) => Date.parse(String(e["time"])));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    for (const e of events) delete e["time"];
    expect(events.slice(1)).toEqual([
      { op: "add", key: `${svc}/5.6.7.8:9`, addr: "5.6.7.8:9", metadata: null, revision: expect.any(Number) },
      {
        op: "update",
        key: `${svc}/1.2.3.4:1`,
        addr: "1.2.3.4:1",
        metadata: "b",
        revision: expect.any(Number),
      },
      { op: "delete", key: `${svc}/5.6.7.8:9`, revision: expect.any(Number) },
    ]);
    const revisions = events.map((e) => e["revision"] as number);
    expect([...revisions].sort((a, b) => a - b)).toEqual(revisions);

    watch.child.kill("SIGINT");
    expect(await watch.exited).toEqual({ code: 0, signal: null });
  });

  it("prints + ~ - lines for people and exits 0 on SIGTERM", async () => {
    const svc = service();
    const watch = start(["watch", svc]);
    await expect.poll(() => watch.stderr, { timeout: 10_000 }).toContain(`watching ${svc}: 0 endpoint(s)`);
    await runBin(["add", svc, "h:1", "--metadata", '"m"'], env());
    // Each line starts with the time the change arrived.
    const untimed = (): string[] =>
      watch.lines().map((l) => l.replace(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /, ""));
    await expect.poll(untimed, { timeout: 10_000 }).toEqual([`+ ${svc}/h:1 h:1 "m"`]);
    await runBin(["add", svc, "h:1"], env());
    await expect.poll(() => watch.lines().length, { timeout: 10_000 }).toBe(2);
    await runBin(["del", svc, "h:1"], env());
    await expect.poll(() => watch.lines().length, { timeout: 10_000 }).toBe(3);
    expect(untimed()).toEqual([`+ ${svc}/h:1 h:1 "m"`, `~ ${svc}/h:1 h:1`, `- ${svc}/h:1`]);
    // A delete is a delete, not a malformed value.
    expect(watch.stderr).not.toContain("warning");
    watch.child.kill("SIGTERM");
    expect(await watch.exited).toEqual({ code: 0, signal: null });
  });
});

describe("register", () => {
  function leaseOf(bin: RunningBin): string {
    return /with lease ([0-9a-f]+)/.exec(bin.stdout)?.[1] ?? "";
  }

  it("attaches the key to a lease etcdctl sees, and SIGTERM removes the key at once", async () => {
    const svc = service();
    const reg = start(["register", svc, "10.1.1.1:50051", "--ttl", "10", "--metadata", '"r"']);
    await expect.poll(() => leaseOf(reg), { timeout: 10_000 }).not.toBe("");
    const lease = leaseOf(reg);
    expect(reg.stdout).toBe(
      `registered ${svc}/10.1.1.1:50051 10.1.1.1:50051 with lease ${lease} (TTL 10s); Ctrl-C or SIGTERM deregisters\n`,
    );
    const ttl = await etcdctl(etcd.endpoints, ["lease", "timetolive", lease, "--keys"]);
    expect(ttl).toContain(`lease ${lease} granted with TTL(10s)`);
    expect(ttl).toContain(`attached keys([${svc}/10.1.1.1:50051])`);
    expect(await etcdctl(etcd.endpoints, ["get", `${svc}/10.1.1.1:50051`, "--print-value-only"])).toBe(
      '{"Op":0,"Addr":"10.1.1.1:50051","Metadata":"r"}\n',
    );

    reg.child.kill("SIGTERM");
    expect(await reg.exited).toEqual({ code: 0, signal: null });
    // Gone at once, not after the TTL: the lease is revoked too.
    expect(await etcdctl(etcd.endpoints, ["get", `${svc}/10.1.1.1:50051`, "--keys-only"])).toBe("");
    expect(await etcdctl(etcd.endpoints, ["lease", "timetolive", lease])).toContain("already expired");
    expect(reg.stdout).toContain(`deregistered ${svc}/10.1.1.1:50051\n`);
  });

  it("re-registers when the lease is revoked behind its back, and prints the new lease", async () => {
    const svc = service();
    const reg = start(["register", svc, "10.1.1.2:1", "--ttl", "5", "--json"]);
    await expect.poll(() => reg.lines().length, { timeout: 10_000 }).toBe(1);
    const first = JSON.parse(reg.lines()[0] ?? "") as { event: string; lease: string };
    expect(first).toEqual({
      event: "registered",
      key: `${svc}/10.1.1.2:1`,
      addr: "10.1.1.2:1",
      metadata: null,
      lease: expect.any(String),
      ttl: 5,
    });
    await etcdctl(etcd.endpoints, ["lease", "revoke", first.lease]);
    await expect
      .poll(() => reg.lines().map((l) => (JSON.parse(l) as { event: string }).event), { timeout: 15_000 })
      .toContain("reregistered");
    const again = reg
      .lines()
      .map((l) => JSON.parse(l) as { event: string; lease?: string })
      .find((e) => e.event === "reregistered");
    expect(again?.lease).not.toBe(first.lease);
    // The lost lease in hex everywhere, as etcdctl took it above; its decimal form nowhere.
    const lost = reg
      .lines()
      .map((l) => JSON.parse(l) as { event: string; lease?: string; reason?: string })
      .find((e) => e.event === "lost");
    expect(lost).toEqual({
      event: "lost",
      key: `${svc}/10.1.1.2:1`,
      lease: first.lease,
      reason: expect.stringMatching(new RegExp(`^lease ${first.lease} was lost`)),
    });
    expect(first.lease).toMatch(/^[0-9a-f]{16}$/);
    expect(reg.stdout + reg.stderr).not.toContain(BigInt(`0x${first.lease}`).toString());
    await expect
      .poll(() => etcdctl(etcd.endpoints, ["lease", "timetolive", again?.lease ?? "", "--keys"]), {
        timeout: 10_000,
      })
      .toContain(`attached keys([${svc}/10.1.1.2:1])`);
    reg.child.kill("SIGINT");
    expect(await reg.exited).toEqual({ code: 0, signal: null });
    expect(await etcdctl(etcd.endpoints, ["get", `${svc}/10.1.1.2:1`, "--keys-only"])).toBe("");
  });

  it("SIGKILL leaves the key until its lease expires after the TTL", async () => {
    const svc = service();
    const reg = start(["register", svc, "10.1.1.3:1", "--ttl", "5"]);
    await expect.poll(() => leaseOf(reg), { timeout: 10_000 }).not.toBe("");
    reg.child.kill("SIGKILL");
    expect((await reg.exited).signal).toBe("SIGKILL");
    expect(await etcdctl(etcd.endpoints, ["get", `${svc}/10.1.1.3:1`, "--keys-only"])).toContain(svc);
    const killedAt = Date.now();
    await expect
      .poll(() => etcdctl(etcd.endpoints, ["get", `${svc}/10.1.1.3:1`, "--keys-only"]), {
        timeout: 15_000,
        interval: 250,
      })
      .toBe("");
    // Expired by the lease, not deleted by anyone: it took about the TTL.
    expect(Date.now() - killedAt).toBeGreaterThan(2_000);
  });
});
