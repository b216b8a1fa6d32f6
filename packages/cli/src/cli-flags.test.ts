import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { colorEnabled } from "./output.js";
import { runInProcess } from "./test/capture.js";
import { borderedTable, fieldLines, parseWriteOut } from "./write-out.js";

const exec = promisify(execFile);

describe("-w/--write-out", () => {
  it("takes the four formats, --json as json, and refuses the rest naming the flag or variable", () => {
    expect(parseWriteOut(undefined, undefined)).toBe("simple");
    expect(parseWriteOut(undefined, "json")).toBe("json");
    for (const f of ["simple", "json", "table", "fields"]) expect(parseWriteOut(f, undefined)).toBe(f);
    expect(() => parseWriteOut("yaml", undefined)).toThrow(/^invalid --write-out "yaml"/);
    expect(() => parseWriteOut("yaml", undefined, "ETCDCTL_WRITE_OUT")).toThrow(/^invalid ETCDCTL_WRITE_OUT/);
    expect(() => parseWriteOut("table", "json")).toThrow("--json contradicts --write-out table");
  });

  it("draws etcdctl's bordered table and fields", () => {
    expect(borderedTable(["KEY", "N"], [["a/b", "10"]])).toEqual([
      "+-----+----+",
      "| KEY | N  |",
      "+-----+----+",
      "| a/b | 10 |",
      "+-----+----+",
    ]);
    expect(fieldLines({ key: "k", modRevision: 3, lease: undefined, metadata: null })).toEqual([
      '"Key" : "k"',
      '"ModRevision" : 3',
      '"Metadata" : null',
    ]);
  });

  it("exits 2 with one reason line for a bad format before connecting", async () => {
    const run = await runInProcess(["list", "svc", "-w", "xml", "--endpoints", "127.0.0.1:1"]);
    expect(run.code).toBe(2);
    expect(run.stderr.split("\n")[0]).toBe(
      'error: invalid --write-out "xml": expected one of simple, json, table, fields',
    );
    const fromEnv = await runInProcess(["list", "svc"], { env: { ETCDCTL_WRITE_OUT: "yaml" } });
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr.split("\n")[0]).toBe(
      'error: invalid ETCDCTL_WRITE_OUT "yaml": expected one of simple, json, table, fields',
    );
    const both = await runInProcess(["--json", "list", "svc", "-w", "table"]);
    expect(both.code).toBe(2);
    expect(both.stderr.split("\n")[0]).toBe("error: --json contradicts --write-out table");
  });
});

describe("colours", () => {
  it("honour NO_COLOR, FORCE_COLOR and TERM=dumb", () => {
    expect(colorEnabled(true, false, { TERM: "dumb" })).toBe(false);
    expect(colorEnabled(false, false, { FORCE_COLOR: "1" })).toBe(true);
    expect(colorEnabled(false, false, { FORCE_COLOR: "" })).toBe(true);
    expect(colorEnabled(true, false, { FORCE_COLOR: "0" })).toBe(false);
    expect(colorEnabled(true, false, { FORCE_COLOR: "false" })).toBe(false);
    expect(colorEnabled(false, false, { FORCE_COLOR: "1", NO_COLOR: "1" })).toBe(false);
    // Machine formats are never painted.
    expect(colorEnabled(true, true, { FORCE_COLOR: "1" })).toBe(false);
  });

  it("paints errors off a terminal with FORCE_COLOR, and not on a dumb terminal", async () => {
    const forced = await runInProcess(["list", "svc", "-w", "xml"], { env: { FORCE_COLOR: "1" } });
    expect(forced.stderr.startsWith("\u001b[31merror:\u001b[39m ")).toBe(true);
    const dumb = await runInProcess(["list", "svc", "-w", "xml"], { env: { TERM: "dumb" }, isTTY: true });
    expect(dumb.stderr).toMatch(/^error: /);
  });
});

describe("errors from the environment name the variable", () => {
  it.each<[Record<string, string>, string]>([
    [{ ETCDCTL_DIAL_TIMEOUT: "soon" }, 'error: invalid ETCDCTL_DIAL_TIMEOUT "soon"'],
    [{ ETCDCTL_COMMAND_TIMEOUT: "-1" }, "error: invalid ETCDCTL_COMMAND_TIMEOUT"],
    [{ ETCDCTL_USER: ":pw" }, "error: invalid ETCDCTL_USER: expected name or name:password"],
    [{ ETCDCTL_CERT: "/c.pem" }, "error: ETCDCTL_CERT and --key go together"],
    [{ ETCD_ENDPOINTS: "h:99999" }, 'error: invalid endpoint "h:99999" in ETCD_ENDPOINTS'],
  ])("%o", async (env, message) => {
    const run = await runInProcess(["list", "svc"], { env });
    expect(run.code).toBe(2);
    expect(run.stderr.split("\n")[0]).toContain(message);
  });
});

describe("--password and --user", () => {
  it("refuses --password without --user, and a password given twice, without echoing it", async () => {
    const alone = await runInProcess(["list", "svc", "--password", "s3cret-x"]);
    expect(alone.code).toBe(2);
    expect(alone.stderr.split("\n")[0]).toBe("error: --password needs --user NAME");
    const twice = await runInProcess(["list", "svc", "--user", "u:s3cret-y", "--password", "s3cret-x"]);
    expect(twice.code).toBe(2);
    expect(twice.stderr.split("\n")[0]).toBe(
      "error: pass the password either in --user name:password or in --password, not both",
    );
    expect(alone.stderr + twice.stderr).not.toMatch(/s3cret/);
  });

  it("--insecure-transport contradicts TLS flags", async () => {
    const run = await runInProcess(["list", "svc", "--insecure-transport", "--cacert", "/ca.pem"]);
    expect(run.code).toBe(2);
    expect(run.stderr.split("\n")[0]).toBe(
      "error: --insecure-transport contradicts --cacert, --cert and --key",
    );
  });
});

describe("--debug", () => {
  it("prints the cause chain under the error line, and only with --debug", async () => {
    const argv = ["list", "svc", "--endpoints", "127.0.0.1:1", "--dial-timeout", "1s"];
    const plain = await runInProcess(argv);
    expect(plain.code).toBe(1);
    expect(plain.stderr.trimEnd().split("\n")).toHaveLength(1);
    const debug = await runInProcess([...argv, "--debug"]);
    expect(debug.code).toBe(1);
    const lines = debug.stderr.trimEnd().split("\n");
    expect(lines[0]).toBe(plain.stderr.trimEnd());
    expect(lines[1]).toMatch(/^ {2}caused by: \w+/);
    expect(lines.length).toBeGreaterThan(1);
  });
});

describe("completion", () => {
  it("prints a bash script that bash loads and that completes commands and flags", async () => {
    const run = await runInProcess(["completion", "bash"]);
    expect(run.code).toBe(0);
    const script = `${run.stdout}
COMP_WORDS=(etcd-naming li); COMP_CWORD=1; _etcd_naming; echo "\${COMPREPLY[*]}"
COMP_WORDS=(etcd-naming list --wi); COMP_CWORD=2; _etcd_naming; echo "\${COMPREPLY[*]}"
COMP_WORDS=(etcd-naming add s a --i); COMP_CWORD=4; _etcd_naming; echo "\${COMPREPLY[*]}"
complete -p etcd-naming`;
    const { stdout } = await exec("bash", ["-c", script]);
    expect(stdout.split("\n")).toEqual([
      "list",
      "--wide",
      "--id --insecure-transport --insecure-skip-tls-verify",
      "complete -o default -F _etcd_naming etcd-naming",
      "",
    ]);
  });

  it("prints zsh and fish scripts naming every command", async () => {
    for (const shell of ["zsh", "fish"]) {
      const run = await runInProcess(["completion", shell]);
      expect(run.code).toBe(0);
      for (const name of ["add", "get", "list", "lease", "watch", "version"])
        expect(run.stdout).toContain(name);
    }
    expect((await runInProcess(["completion", "fish"])).stdout).toContain(
      "complete -c etcd-naming -n '__fish_seen_subcommand_from list' -l wide",
    );
    expect((await runInProcess(["completion", "zsh"])).stdout).toMatch(/^#compdef etcd-naming\n/);
  });

  it("refuses another shell with exit 2", async () => {
    const run = await runInProcess(["completion", "tcsh"]);
    expect(run.code).toBe(2);
    expect(run.stderr.split("\n")[0]).toBe('error: unknown shell "tcsh": expected bash, zsh or fish');
  });
});
