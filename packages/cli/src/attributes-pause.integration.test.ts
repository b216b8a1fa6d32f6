// `--attr` on add/register, attributes in `list`, and `pause`/`resume` against a running registrar: through
// the real bin, as separate processes, against a real etcd.
import { PAUSE_MARKER_ROOT, pauseMarkerKey } from "@etcd-naming/codec";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import { register } from "@etcd-naming/registrar";
import { createEtcd3Source, watchService } from "@etcd-naming/watcher";
import { afterAll, describe, expect, it, vi } from "vitest";
import { binEnv, binStarter, runBin } from "./test/bin.js";

vi.setConfig({ testTimeout: 30_000 });
const etcd = useTestEtcd();
const env = (): NodeJS.ProcessEnv => binEnv({ ETCD_ENDPOINTS: etcd.endpoints.join(",") });
let serial = 0;
const service = (): string => `${etcd.namespace}/attrs-${++serial}`;
const poll = { timeout: 10_000, interval: 20 };
const quiet = { warn: () => undefined };

const start = binStarter(env);
afterAll(async () => {
  // Markers live outside the namespace the fixture cleans; every test removes its own, this is a net.
  await etcd.client().delete().prefix(`${PAUSE_MARKER_ROOT}${etcd.namespace}/`).exec();
});

const value = (key: string) => etcd.client().get(key).string();

describe("--attr", () => {
  it("add writes the attribute string, and list shows the attributes", async () => {
    const svc = service();
    const added = await runBin(
      ["add", svc, "10.0.0.1:1", "--attr", "zone=a", "--attr", "weight=3", "--attr", "note=a;b c"],
      env(),
    );
    expect(added).toMatchObject({ code: 0, stderr: "" });
    expect(added.stdout).toMatch(
      new RegExp(`^added ${svc}/10\\.0\\.0\\.1:1 10\\.0\\.0\\.1:1 "note=a%3Bb%20c;weight=3;zone=a"`),
    );
    expect(await value(`${svc}/10.0.0.1:1`)).toBe(
      '{"Op":0,"Addr":"10.0.0.1:1","Metadata":"note=a%3Bb%20c;weight=3;zone=a"}',
    );
    await runBin(["add", svc, "10.0.0.2:1", "--metadata", '{"zone":"b"}', "--quiet"], env());

    const table = await runBin(["list", svc], env());
    expect(table).toMatchObject({ code: 0, stderr: "" });
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^KEY\s+ADDRESS\s+METADATA\s+ATTRIBUTES\s+LEASE\s+TTL$/);
    expect(lines[1]).toMatch(
      /10\.0\.0\.1:1\s+"note=a%3Bb%20c;weight=3;zone=a"\s+note=a%3Bb%20c;weight=3;zone=a\s+-\s+-$/,
    );
    expect(lines[2]).toMatch(/10\.0\.0\.2:1\s+\{"zone":"b"\}\s+zone=b\s+-\s+-$/);

    const json = await runBin(["list", svc, "--json"], env());
    expect((JSON.parse(json.stdout) as { attributes: unknown }[]).map((e) => e.attributes)).toEqual([
      { note: "a;b c", weight: "3", zone: "a" },
      { zone: "b" },
    ]);
  });

  it("refuses a bad --attr, or --attr with --metadata, as usage errors before connecting", async () => {
    const svc = service();
    const cases: [string[], RegExp][] = [
      [["--attr", "zone"], /^error: invalid --attr "zone": expected key=value, e\.g\. --attr zone=a$/],
      [["--attr", "my zone=a"], /^error: invalid --attr: attributes: key "my zone" has U\+0020 at index 2/],
      [["--attr", "zone=a", "--attr", "zone=b"], /^error: invalid --attr: the key "zone" is given twice$/],
      [["--attr", "zone=a", "--metadata", '"x"'], /^error: pass either --metadata or --attr, not both/],
    ];
    for (const [args, message] of cases) {
      // No etcd at this address: a usage error is reported before any connection is tried.
      const run = await runBin(["add", svc, "10.0.0.1:1", ...args, "--endpoints", "127.0.0.1:9"], binEnv());
      expect(run.code, args.join(" ")).toBe(2);
      expect(run.stderr.split("\n")[0], args.join(" ")).toMatch(message);
    }
  });
});

describe("pause and resume", () => {
  it("take a running `etcd-naming register` out of rotation and back, keeping its lease", async () => {
    const svc = service();
    const registrar = start(["register", svc, "10.0.0.5:50051", "--attr", "zone=a", "--ttl", "5", "--json"]);
    await vi.waitFor(() => expect(registrar.lines()[0]).toContain('"event":"registered"'), poll);
    const { lease } = JSON.parse(registrar.lines()[0]!) as { lease: string };
    const key = `${svc}/10.0.0.5:50051`;
    const stored = await value(key);
    expect(stored).toBe('{"Op":0,"Addr":"10.0.0.5:50051","Metadata":"zone=a"}');

    const watcher = watchService(createEtcd3Source(etcd.client()), svc, { logger: quiet });
    try {
      await watcher.ready();
      const keys = () => watcher.snapshot().endpoints.map((e) => e.key);
      expect(keys()).toEqual([key]);

      const paused = await runBin(["pause", svc, "10.0.0.5:50051"], env());
      expect(paused).toMatchObject({ code: 0, stderr: "" });
      expect(paused.stdout).toBe(`paused ${key} is out of rotation; its lease ${lease} and process stay\n`);
      // When the command returns, the key is gone, for this watcher as for any resolver.
      expect(await value(key)).toBeNull();
      await expect.poll(keys, poll).toEqual([]);
      await vi.waitFor(() =>
        expect(registrar.lines()).toContainEqual(expect.stringContaining('"event":"paused"')),
      );
      expect(registrar.child.exitCode).toBeNull();
      const marker = await etcd.client().get(pauseMarkerKey(key)).exec();
      expect(BigInt(marker.kvs[0]!.lease).toString(16).padStart(16, "0")).toBe(lease);

      const again = await runBin(["pause", svc, key, "--json"], env());
      expect(again).toMatchObject({ code: 0, stderr: "" });
      expect(JSON.parse(again.stdout)).toEqual({ paused: key, lease, changed: false });

      // list shows it apart, with its address and attributes, from the marker.
      const table = await runBin(["list", svc], env());
      expect(table.stdout).toMatch(
        /^no endpoints in .*\n\npaused 1 endpoint \(not served; "resume" serves again\):\n/,
      );
      expect(table.stdout).toMatch(new RegExp(`  ${key}\\s+10\\.0\\.0\\.5:50051\\s+zone=a\\s+${lease}\\n$`));
      const json = await runBin(["list", svc, "--json"], env());
      expect(JSON.parse(json.stdout)).toEqual([]);
      expect(JSON.parse(json.stderr)).toEqual({
        paused: [{ key, addr: "10.0.0.5:50051", attributes: { zone: "a" }, lease }],
      });

      const resumed = await runBin(["resume", svc, "10.0.0.5:50051"], env());
      expect(resumed).toMatchObject({ code: 0, stderr: "" });
      expect(resumed.stdout).toBe(`resumed ${key} is served again under lease ${lease}\n`);
      expect(await value(key)).toBe(stored);
      const back = (await etcd.client().get(key).exec()).kvs[0]!;
      expect(BigInt(back.lease).toString(16).padStart(16, "0")).toBe(lease);
      expect(await etcd.client().get(pauseMarkerKey(key)).string()).toBeNull();
      await expect.poll(keys, poll).toEqual([key]);
      await vi.waitFor(() =>
        expect(registrar.lines()).toContainEqual(expect.stringContaining('"event":"resumed"')),
      );
      const noop = await runBin(["resume", svc, "10.0.0.5:50051"], env());
      expect(noop.stdout).toBe(`resumed ${key} is not paused: nothing to do\n`);

      registrar.child.kill("SIGTERM");
      expect((await registrar.exited).code).toBe(0);
      expect(await value(key)).toBeNull();
    } finally {
      await watcher.close();
    }
  });

  it("reach a registrar of another process by key, and by address when the id differs", async () => {
    const svc = service();
    const client = etcd.client();
    const reg = await register({ client, service: svc, addr: "10.0.0.6:1", key: `${svc}/node-6`, ttl: 5 });
    try {
      const byAddr = await runBin(["pause", svc, "10.0.0.6:1"], env());
      expect(byAddr).toMatchObject({ code: 0, stdout: expect.stringContaining(`paused ${svc}/node-6`) });
      expect(reg.paused).toBe(true);
      expect(await value(reg.key)).toBeNull();
      const byId = await runBin(["resume", svc, "node-6"], env());
      expect(byId).toMatchObject({ code: 0, stdout: expect.stringContaining(`resumed ${svc}/node-6`) });
      expect(reg.paused).toBe(false);
      expect(await value(reg.key)).not.toBeNull();
    } finally {
      await reg.deregister();
    }
  });

  it("fail with exit 1 and a clear reason for an unknown id, a key without lease, and no registrar", async () => {
    const svc = service();
    const unknown = await runBin(["pause", svc, "nobody"], env());
    expect(unknown).toMatchObject({ code: 1, stdout: "" });
    expect(unknown.stderr).toBe(`error: no endpoint "nobody" in ${svc}\n`);
    const unknownResume = await runBin(["resume", svc, "nobody"], env());
    expect(unknownResume).toMatchObject({ code: 1, stderr: `error: no endpoint "nobody" in ${svc}\n` });

    await runBin(["add", svc, "10.0.0.7:1"], env());
    const permanent = await runBin(["pause", svc, "10.0.0.7:1"], env());
    expect(permanent.code).toBe(1);
    expect(permanent.stderr).toMatch(/^error: .*\/10\.0\.0\.7:1 has no lease, so no registrar keeps it/);
    expect(await value(`${svc}/10.0.0.7:1`)).not.toBeNull();

    // A leased key that no registrar of ours keeps (as Go's endpoints.Manager writes it): the request is
    // withdrawn after the command timeout and the key is left as it was.
    const client = etcd.client();
    const lease = client.lease(30, { autoKeepAlive: false });
    await lease.put(`${svc}/go-1`).value('{"Op":0,"Addr":"10.0.0.8:1","Metadata":null}');
    try {
      const started = performance.now();
      const orphan = await runBin(["pause", svc, "go-1", "--command-timeout", "1s"], env());
      expect(orphan.code).toBe(1);
      expect(orphan.stderr).toMatch(
        new RegExp(
          `^error: no registrar acted on the pause of ${svc}/go-1 within 1s, so the request was withdrawn`,
        ),
      );
      expect(performance.now() - started).toBeGreaterThanOrEqual(1000);
      expect(await value(`${svc}/go-1`)).not.toBeNull();
      expect(await client.get(pauseMarkerKey(`${svc}/go-1`)).string()).toBeNull();
    } finally {
      await lease.revoke();
    }
  });
});
