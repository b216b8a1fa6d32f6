import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import { describe, expect, it, vi } from "vitest";
import { binEnv, binStarter, etcdctl, runBin } from "./test/bin.js";

// get, lease, list --wide, watch --rev and version through the real bin against a real etcd.
vi.setConfig({ testTimeout: 60_000 });
const etcd = useTestEtcd();
const env = (): NodeJS.ProcessEnv => binEnv({ ETCD_ENDPOINTS: etcd.endpoints.join(",") });
let serial = 0;
const service = (): string => `${etcd.namespace}/cmd-${++serial}`;
const start = binStarter(env);

/** Grants a lease with etcdctl and returns its hex id. */
async function grant(ttl: number): Promise<string> {
  const out = await etcdctl(etcd.endpoints, ["lease", "grant", String(ttl)]);
  const id = /lease ([0-9a-f]+) granted/.exec(out)?.[1];
  if (id === undefined) throw new Error(`no lease id in ${out}`);
  return id;
}

describe("get", () => {
  it("shows one endpoint by address or id with revisions, lease and TTL, and exits 1 when absent", async () => {
    const svc = service();
    const lease = await grant(60);
    await etcdctl(etcd.endpoints, [
      "put",
      `${svc}/node-a`,
      '{"Addr":"10.0.0.1:80","Metadata":"m"}',
      `--lease=${lease}`,
    ]);
    await etcdctl(etcd.endpoints, [
      "put",
      `${svc}/node-a`,
      '{"Addr":"10.0.0.1:80","Metadata":"n"}',
      `--lease=${lease}`,
    ]);
    const byId = await runBin(["get", svc, "node-a", "-w", "json"], env());
    expect(byId).toMatchObject({ code: 0, stderr: "" });
    const item = JSON.parse(byId.stdout) as Record<string, unknown>;
    expect(item).toEqual({
      key: `${svc}/node-a`,
      addr: "10.0.0.1:80",
      metadata: "n",
      attributes: {},
      lease: lease.padStart(16, "0"),
      ttl: expect.any(Number),
      modRevision: expect.any(Number),
      createRevision: expect.any(Number),
      version: 2,
    });
    expect(item["modRevision"]).toBeGreaterThan(item["createRevision"] as number);
    expect(item["ttl"]).toBeGreaterThan(50);
    // By address: the endpoint registered under another id.
    const byAddr = await runBin(["get", svc, "10.0.0.1:80"], env());
    expect(byAddr.code).toBe(0);
    expect(byAddr.stdout).toContain(`key:       ${svc}/node-a`);
    expect(byAddr.stdout).toMatch(/revision: {2}created \d+, modified \d+, version 2/);
    const fields = await runBin(["get", svc, "node-a", "-w", "fields"], env());
    expect(fields.stdout).toContain(`"Key" : "${svc}/node-a"`);
    expect(fields.stdout).toContain('"Version" : 2');
    const missing = await runBin(["get", svc, "nope"], env());
    expect(missing).toMatchObject({ code: 1, stdout: "", stderr: `error: no endpoint "nope" in ${svc}\n` });
  });
});

describe("lease", () => {
  it("prints the granted TTL, the time left and the keys, in every format", async () => {
    const svc = service();
    const lease = await grant(120);
    await etcdctl(etcd.endpoints, ["put", `${svc}/b`, '{"Addr":"b:1"}', `--lease=${lease}`]);
    await etcdctl(etcd.endpoints, ["put", `${svc}/a`, '{"Addr":"a:1"}', `--lease=${lease}`]);
    const json = await runBin(["lease", lease, "--json"], env());
    expect(json).toMatchObject({ code: 0, stderr: "" });
    expect(JSON.parse(json.stdout)).toEqual({
      id: lease.padStart(16, "0"),
      grantedTtl: 120,
      ttl: expect.any(Number),
      keys: [`${svc}/a`, `${svc}/b`],
    });
    const simple = await runBin(["lease", lease], env());
    expect(simple.stdout).toMatch(/^lease [0-9a-f]{16} granted with TTL\(120s\), remaining\(\d+s\)\n/);
    expect(simple.stdout).toContain(`  ${svc}/a\n  ${svc}/b\n`);
    const table = await runBin(["lease", lease, "-w", "table"], env());
    expect(table.stdout.split("\n")[1]).toMatch(/^\| ID +\| GRANTED TTL \| TTL +\| KEYS +\|$/);
    await etcdctl(etcd.endpoints, ["lease", "revoke", lease]);
    const gone = await runBin(["lease", lease], env());
    expect(gone).toMatchObject({ code: 1, stdout: "" });
    expect(gone.stderr).toMatch(/^error: lease [0-9a-f]{16} not found/);
    const bad = await runBin(["lease", "xyz"], env());
    expect(bad.code).toBe(2);
    expect(bad.stderr.split("\n")[0]).toMatch(/^error: invalid lease id "xyz"/);
  });
});

describe("list --wide and -w", () => {
  it("adds revision columns with --wide, and draws a bordered table with -w table", async () => {
    const svc = service();
    await runBin(["add", svc, "h:1"], env());
    await runBin(["add", svc, "h:1", "--metadata", '"x"'], env());
    const wide = await runBin(["list", svc, "--wide"], env());
    expect(wide.code).toBe(0);
    const [head, row] = wide.stdout.split("\n");
    expect(head).toMatch(/^KEY +ADDRESS +METADATA +LEASE +TTL +CREATE REV +MOD REV +VERSION$/);
    expect(row).toMatch(new RegExp(`^${svc}/h:1 +h:1 +"x" +- +- +(\\d+) +(\\d+) +2$`));
    const table = await runBin(["list", svc, "-w", "table"], env());
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^\+-+\+/);
    expect(lines[1]).toMatch(/^\| KEY +\| ADDR +\| METADATA +\| ATTRIBUTES +\| MOD REVISION +\|/);
    expect(lines[3]).toContain(`| ${svc}/h:1 `);
    expect(lines).toHaveLength(5);
  });

  it("prints fields, takes --json before the command, and names ETCDCTL_WRITE_OUT in its error", async () => {
    const svc = service();
    await runBin(["add", svc, "h:1", "--metadata", '"x"'], env());
    const fields = await runBin(["list", svc, "--write-out=fields"], env());
    expect(fields.stdout).toContain(`"Key" : "${svc}/h:1"\n"Addr" : "h:1"\n"Metadata" : "x"\n`);
    // --json before the command is the same as -w json after it.
    const json = await runBin(["--json", "list", svc], env());
    expect(json.stdout).toBe((await runBin(["list", svc, "-w", "json"], env())).stdout);
    expect(JSON.parse(json.stdout)).toHaveLength(1);
    const services = await runBin(["services", svc, "-w", "fields"], env());
    expect(services.stdout).toBe(`"Service" : "${svc}"\n"Endpoints" : 1\n"Skipped" : 0\n`);
    const fromEnv = await runBin(["list", svc], { ...env(), ETCDCTL_WRITE_OUT: "xml" });
    expect(fromEnv.stderr.split("\n")[0]).toBe(
      'error: invalid ETCDCTL_WRITE_OUT "xml": expected one of simple, json, table, fields',
    );
  });
});

describe("watch --rev", () => {
  it("prints the changes since the revision first, each with its time, then live ones", async () => {
    const svc = service();
    const added = JSON.parse((await runBin(["add", svc, "h:1", "--json"], env())).stdout) as {
      modRevision: number;
    };
    await runBin(["del", svc, "h:1"], env());
    const watch = start(["watch", svc, "--rev", String(added.modRevision), "-w", "json"]);
    await expect.poll(() => watch.lines().length, { timeout: 10_000 }).toBe(2);
    await runBin(["add", svc, "h:2"], env());
    await expect.poll(() => watch.lines().length, { timeout: 10_000 }).toBe(3);
    const events = watch.lines().map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.map((e) => [e["op"], e["key"]])).toEqual([
      ["add", `${svc}/h:1`],
      ["delete", `${svc}/h:1`],
      ["add", `${svc}/h:2`],
    ]);
    expect(events[0]?.["revision"]).toBe(added.modRevision);
    for (const e of events) expect(Date.parse(String(e["time"]))).toBeGreaterThan(0);
    watch.child.kill("SIGINT");
    expect(await watch.exited).toEqual({ code: 0, signal: null });
    const bad = await runBin(["watch", svc, "--rev", "abc"], env());
    expect(bad.code).toBe(2);
    expect(bad.stderr.split("\n")[0]).toBe(
      'error: invalid --rev "abc": expected a revision number such as 42',
    );
  });
});

describe("version", () => {
  it("prints the CLI's version and etcd's, or only the CLI's when etcd is unreachable", async () => {
    const json = await runBin(["version", "-w", "json"], env());
    expect(json.code).toBe(0);
    const info = JSON.parse(json.stdout) as { cli: string; server: string };
    expect(info.cli).toMatch(/^\d+\.\d+\.\d+/);
    expect(info.server).toMatch(/^3\.\d+\.\d+$/);
    const simple = await runBin(["version"], env());
    expect(simple.stdout).toBe(`etcd-naming version: ${info.cli}\netcd version: ${info.server}\n`);
    const away = await runBin(["version", "--endpoints", "127.0.0.1:1", "--json"], binEnv());
    expect(away.code).toBe(0);
    expect(JSON.parse(away.stdout)).toEqual({ cli: info.cli, server: null });
    expect(away.stderr).toMatch(/^warning: etcd version unknown: cannot reach etcd/);
  });
});
