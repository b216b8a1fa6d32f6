import { startEtcd } from "@etcd-naming/etcd-fixture";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import { describe, expect, it, vi } from "vitest";
import { etcdctl } from "./test/bin.js";
import { runInProcess } from "./test/capture.js";

// In-process runs against real etcd, for what a spawned process cannot show: a terminal, prompts.
vi.setConfig({ testTimeout: 30_000 });
const etcd = useTestEtcd();
let serial = 0;
const service = (): string => `${etcd.namespace}/svc-${++serial}`;
const env = (): Record<string, string> => ({ ETCD_ENDPOINTS: etcd.endpoints.join(",") });
const ESC = "\u001b[";
/** The characters of `text` a terminal would act on or could not show: controls (but tab and newline), U+FFFD. */
const unsafe = (text: string): string[] =>
  [...text].filter((c) => {
    const code = c.codePointAt(0)!;
    return (code < 0x20 && c !== "\t" && c !== "\n") || code === 0x7f || code === 0xfffd;
  });
const never = async (): Promise<never> => {
  throw new Error("no prompt expected");
};

describe("on a terminal", () => {
  it("colours the table, draws a spinner while connecting, and stays plain with NO_COLOR or --json", async () => {
    const svc = service();
    expect((await runInProcess(["add", svc, "1.2.3.4:1"], { env: env() })).code).toBe(0);
    const tty = await runInProcess(["list", svc], { env: env(), isTTY: true });
    expect(tty.code).toBe(0);
    expect(tty.stdout).toContain(`${ESC}1mKEY`);
    expect(tty.stderr).toContain("connecting to etcd at");
    expect(tty.stderr.endsWith(`\r${ESC}K`)).toBe(true);

    const noColor = await runInProcess(["list", svc], { env: { ...env(), NO_COLOR: "1" }, isTTY: true });
    expect(noColor.stdout).not.toContain(ESC);
    expect(noColor.stdout).toMatch(/^KEY\s+ADDRESS/);

    const json = await runInProcess(["list", svc, "--json"], { env: env(), isTTY: true });
    expect(json.stdout).not.toContain(ESC);
    expect(json.stderr).toBe("");
    expect(JSON.parse(json.stdout)).toHaveLength(1);

    const piped = await runInProcess(["list", svc], { env: env(), isTTY: false });
    expect(piped.stdout + piped.stderr).not.toContain(ESC);
  });

  it("del --all asks first: no deletes nothing (exit 1), yes deletes everything", async () => {
    const svc = service();
    await runInProcess(["add", svc, "1.2.3.4:1"], { env: env() });
    await runInProcess(["add", svc, "1.2.3.4:2"], { env: env() });
    const tty = { stdin: true, stdout: false, stderr: false };

    const declined = vi.fn(async () => false);
    const no = await runInProcess(["del", svc, "--all"], {
      env: env(),
      isTTY: tty,
      prompter: { password: never, confirm: declined },
    });
    expect(declined).toHaveBeenCalledWith(`Delete 2 keys under ${svc}/? [y/N] `);
    expect(no).toMatchObject({ code: 1, stdout: "", stderr: "error: not confirmed; nothing was deleted\n" });
    expect(await etcdctl(etcd.endpoints, ["get", "--prefix", `${svc}/`, "--keys-only"])).toContain(
      `${svc}/1.2.3.4:2`,
    );

    const accepted = vi.fn(async () => true);
    const yes = await runInProcess(["del", svc, "--all"], {
      env: env(),
      isTTY: tty,
      prompter: { password: never, confirm: accepted },
    });
    expect(yes).toMatchObject({ code: 0, stdout: `deleted ${svc}/1.2.3.4:1\ndeleted ${svc}/1.2.3.4:2\n` });
    expect(await etcdctl(etcd.endpoints, ["get", "--prefix", `${svc}/`, "--keys-only"])).toBe("");
  });
});

describe("add and del details", () => {
  it("says updated when the key existed, and del finds an endpoint by address under another id", async () => {
    const svc = service();
    expect((await runInProcess(["add", svc, "1.2.3.4:1", "--id", "node-a"], { env: env() })).stdout).toMatch(
      new RegExp(`^added ${svc}/node-a 1\\.2\\.3\\.4:1 `),
    );
    expect(
      (await runInProcess(["add", svc, "1.2.3.4:1", "--id", `${svc}/node-a`], { env: env() })).stdout,
    ).toMatch(new RegExp(`^updated ${svc}/node-a 1\\.2\\.3\\.4:1 `));
    const del = await runInProcess(["del", svc, "1.2.3.4:1"], { env: env() });
    expect(del).toEqual({ code: 0, stdout: `deleted ${svc}/node-a\n`, stderr: "" });
  });

  it("del by address deletes a key whose bytes are not UTF-8, and not its look-alike", async () => {
    const svc = service();
    const client = etcd.client();
    const key = (byte: number) => Buffer.concat([Buffer.from(`${svc}/k-`), Buffer.from([byte])]);
    await client.put(key(0xff)).value('{"Op":0,"Addr":"1.2.3.4:1","Metadata":null}');
    await client.put(key(0xfe)).value('{"Op":0,"Addr":"1.2.3.4:2","Metadata":null}');
    const del = await runInProcess(["del", svc, "1.2.3.4:1"], { env: env() });
    expect(del.code).toBe(0);
    expect(await client.get(key(0xff)).string()).toBeNull();
    expect(await client.get(key(0xfe)).string()).not.toBeNull();
  });

  it("shows hostile keys, addresses and reasons escaped: no terminal control and no hidden bytes", async () => {
    const svc = service();
    const client = etcd.client();
    const evil = Buffer.concat([Buffer.from(`${svc}/k-\u001b[2J-`), Buffer.from([0xff])]);
    await client.put(evil).value('{"Op":0,"Addr":"1.2.3.4:1\\u001b]0;pwned\\u0007","Metadata":null}');
    await client.put(`${svc}/junk-\u001b[31m`).value("{");
    const list = await runInProcess(["list", svc], { env: { ...env(), NO_COLOR: "1" } });
    expect(list.code).toBe(0);
    expect(unsafe(list.stdout)).toEqual([]);
    expect(list.stdout).toContain(`${svc}/k-\\x1b[2J-\\xff`);
    expect(list.stdout).toContain("1.2.3.4:1\\x1b]0;pwned\\x07");
    expect(list.stdout).toContain(`${svc}/junk-\\x1b[31m`);
    const del = await runInProcess(["del", svc, "--all", "--yes"], { env: { ...env(), NO_COLOR: "1" } });
    expect(del.code).toBe(0);
    expect(unsafe(del.stdout)).toEqual([]);
    expect(del.stdout).toContain(`deleted ${svc}/k-\\x1b[2J-\\xff`);
  });

  it("refuses an address that matches several endpoints", async () => {
    const svc = service();
    await runInProcess(["add", svc, "1.2.3.4:1", "--id", "a"], { env: env() });
    await runInProcess(["add", svc, "1.2.3.4:1", "--id", "b"], { env: env() });
    const del = await runInProcess(["del", svc, "1.2.3.4:1"], { env: env() });
    expect(del.code).toBe(2);
    expect(del.stderr.split("\n")[0]).toBe(
      `error: address "1.2.3.4:1" matches 2 endpoints in ${svc} (${svc}/a, ${svc}/b): pass the key`,
    );
    expect(await etcdctl(etcd.endpoints, ["get", "--prefix", `${svc}/`, "--keys-only"])).toContain(
      `${svc}/b`,
    );
  });
});

describe("authentication", () => {
  it("logs in with --user, rejects a wrong password with exit 1, and never prints the password", async () => {
    await using server = await startEtcd();
    const ctl = (args: string[]) => etcdctl(server.endpoints, args);
    await ctl(["user", "add", "root", "--new-user-password=r00t-pass"]);
    await ctl(["user", "grant-role", "root", "root"]);
    await ctl(["auth", "enable"]);
    const endpoints = ["--endpoints", server.endpoints.join(",")];

    const ok = await runInProcess(["add", "svc", "1.2.3.4:1", ...endpoints, "--user", "root:r00t-pass"]);
    expect(ok.code).toBe(0);
    expect(ok.stderr).toMatch(/^warning: sending the password of user "root" in plaintext/);
    const viaEnv = await runInProcess(["list", "svc", "--json", ...endpoints, "--user", "root"], {
      env: { ETCD_PASSWORD: "r00t-pass" },
    });
    expect(viaEnv.code).toBe(0);
    expect(JSON.parse(viaEnv.stdout)).toEqual([
      {
        key: "svc/1.2.3.4:1",
        addr: "1.2.3.4:1",
        metadata: null,
        attributes: {},
        modRevision: expect.any(Number),
        createRevision: expect.any(Number),
        version: 1,
      },
    ]);

    const wrong = await runInProcess(["list", "svc", ...endpoints, "--user", "root:not-the-pass"]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^error: etcd rejected the credentials of user "root": /m);
    for (const run of [ok, viaEnv, wrong]) {
      expect(run.stdout + run.stderr).not.toMatch(/r00t-pass|not-the-pass/);
    }
  });
});
