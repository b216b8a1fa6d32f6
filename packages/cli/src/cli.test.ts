import { readFileSync } from "node:fs";
import { describe, expect, it, vi } from "vitest";
import { createCli } from "./cli.js";
import { runInProcess } from "./test/capture.js";

const version = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version;

/** A usage error is one `error:` line, then the command's usage. */
function expectUsageError(stderr: string, reason: RegExp, usage: string): void {
  const lines = stderr.trimEnd().split("\n");
  expect(lines[0]).toMatch(/^error: /);
  expect(lines[0]).toMatch(reason);
  expect(lines[1]).toBe(`Usage: ${usage}`);
}

describe("help and version", () => {
  it("prints the package version", async () => {
    for (const flag of ["--version", "-v"]) {
      const run = await runInProcess([flag]);
      expect(run).toEqual({ code: 0, stdout: `${version}\n`, stderr: "" });
    }
  });

  it("lists every command, the environment and the exit codes in --help", async () => {
    const run = await runInProcess(["--help"]);
    expect(run.code).toBe(0);
    for (const command of ["add", "register", "del", "list", "services", "watch", "pause", "resume"]) {
      expect(run.stdout).toMatch(new RegExp(`^  ${command} `, "m"));
    }
    for (const text of [
      "--endpoints",
      "--cacert",
      "--cert",
      "--key",
      "--user",
      "--dial-timeout",
      "ETCD_PASSWORD",
    ]) {
      expect(run.stdout).toContain(text);
    }
    expect(run.stdout).toContain("2  usage error");
  });

  it("prints each command's help with its own options", async () => {
    const cases: Array<[string, string[]]> = [
      ["add", ["--metadata <json>", "--id <id-or-key>", "--key <file>"]],
      ["register", ["--ttl <seconds>", "--metadata <json>"]],
      ["del", ["--all", "--yes"]],
      ["list", ["--json"]],
      ["watch", ["--json"]],
    ];
    for (const [command, options] of cases) {
      const run = await runInProcess([command, "--help"]);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(`Usage: etcd-naming ${command} [options] <service>`);
      for (const option of options) expect(run.stdout).toContain(option);
      expect(run.stdout).toContain("--endpoints <list>");
    }
  });

  it("shows help on stderr with exit code 2 when no command is given", async () => {
    const run = await runInProcess([]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain("Usage: etcd-naming [options] [command]");
  });

  it("help and help <command> print help on stdout with exit 0", async () => {
    const root = await runInProcess(["help"]);
    expect(root.code).toBe(0);
    expect(root.stderr).toBe("");
    expect(root.stdout).toContain("Usage: etcd-naming [options] [command]");
    expect(root.stdout).toContain("2  usage error");
    const list = await runInProcess(["help", "list"]);
    expect(list).toMatchObject({ code: 0, stderr: "" });
    expect(list.stdout).toContain("Usage: etcd-naming list [options] <service>");
    expect(list.stdout).toContain("--json");
    const itself = await runInProcess(["help", "help"]);
    expect(itself).toMatchObject({ code: 0, stderr: "", stdout: root.stdout });
  });

  it("help of an unknown command is one error line and the usage, exit 2", async () => {
    for (const name of ["constructor", "__proto__", "toString", "frob"]) {
      const run = await runInProcess(["help", name]);
      expect(run.code, name).toBe(2);
      expect(run.stdout, name).toBe("");
      expectUsageError(
        run.stderr,
        new RegExp(
          `^error: unknown command "${name}"; commands are add, register, del, get, list, services, watch, lease, pause, resume, version, completion$`,
        ),
        "etcd-naming [options] [command]",
      );
      expect(run.stderr.trimEnd().split("\n"), name).toHaveLength(3);
    }
  });

  it("says that the command is missing before the help when there is none", async () => {
    for (const argv of [[], ["--quiet"]]) {
      const run = await runInProcess(argv);
      expect(run.code).toBe(2);
      const lines = run.stderr.split("\n");
      expect(lines[0]).toBe(
        "error: missing command; commands are add, register, del, get, list, services, watch, lease, pause, resume, version, completion",
      );
      expect(lines[1]).toBe("Usage: etcd-naming [options] [command]");
    }
  });

  it("keeps an error one line when the argument it echoes holds a newline or a control character", async () => {
    const run = await runInProcess(["a\nb\u0007", "add"]);
    expect(run.code).toBe(2);
    expect(run.stderr.split("\n")).toEqual([
      "error: unknown command 'a\\nb\\u0007'",
      "Usage: etcd-naming [options] [command]",
      'Run "etcd-naming --help" for details.',
      "",
    ]);
    const suggested = await runInProcess(["ad"]);
    expect(suggested.stderr.split("\n")[0]).toBe("error: unknown command 'ad' (did you mean add?)");
  });

  it("exposes a commander program for introspection", () => {
    const names = createCli({ env: {} }).program.commands.map((c) => c.name());
    expect(names).toEqual([
      "add",
      "register",
      "del",
      "get",
      "list",
      "services",
      "watch",
      "lease",
      "pause",
      "resume",
      "version",
      "completion",
    ]);
  });
});

describe("usage errors exit with 2, one line and the command's usage", () => {
  it("unknown command", async () => {
    const run = await runInProcess(["frob"]);
    expect(run.code).toBe(2);
    expectUsageError(run.stderr, /unknown command 'frob'/, "etcd-naming [options] [command]");
  });

  it("unknown flag", async () => {
    const run = await runInProcess(["add", "svc", "1.2.3.4:1", "--frob"]);
    expect(run.code).toBe(2);
    expectUsageError(run.stderr, /unknown option '--frob'/, "etcd-naming add [options] <service> <addr>");
  });

  it("missing and extra arguments", async () => {
    const missing = await runInProcess(["add", "svc"]);
    expect(missing.code).toBe(2);
    expectUsageError(
      missing.stderr,
      /missing required argument 'addr'/,
      "etcd-naming add [options] <service> <addr>",
    );
    const extra = await runInProcess(["list", "svc", "more"]);
    expect(extra.code).toBe(2);
    expectUsageError(extra.stderr, /too many arguments/, "etcd-naming list [options] <service>");
  });

  it("an empty or malformed address", async () => {
    const empty = await runInProcess(["add", "svc", ""]);
    expect(empty.code).toBe(2);
    expectUsageError(
      empty.stderr,
      /^error: invalid address "": must not be empty$/,
      "etcd-naming add [options] <service> <addr>",
    );
    const spaced = await runInProcess(["register", "svc", "1.2.3.4 :1"]);
    expect(spaced.code).toBe(2);
    expectUsageError(spaced.stderr, /whitespace/, "etcd-naming register [options] <service> <addr>");
  });

  it("an invalid service", async () => {
    const run = await runInProcess(["list", "svc/"]);
    expect(run.code).toBe(2);
    expectUsageError(run.stderr, /must not end with "\/"/, "etcd-naming list [options] <service>");
  });

  it("--metadata that is not JSON", async () => {
    const run = await runInProcess(["add", "svc", "1.2.3.4:1", "--metadata", "zone-a"]);
    expect(run.code).toBe(2);
    expectUsageError(
      run.stderr,
      /invalid --metadata: not JSON/,
      "etcd-naming add [options] <service> <addr>",
    );
  });

  it("an --id outside the service", async () => {
    const run = await runInProcess(["add", "svc", "1.2.3.4:1", "--id", "other/x"]);
    expect(run.code).toBe(2);
    expectUsageError(
      run.stderr,
      /"other\/x" is outside service "svc"/,
      "etcd-naming add [options] <service> <addr>",
    );
  });

  it("del: a key of another service, nothing to delete, or both an endpoint and --all", async () => {
    const outside = await runInProcess(["del", "svc", "other-svc/1.2.3.4:1"]);
    expect(outside.code).toBe(2);
    expectUsageError(
      outside.stderr,
      /outside service "svc"/,
      "etcd-naming del [options] <service> [addr-or-id]",
    );
    const none = await runInProcess(["del", "svc"]);
    expect(none.code).toBe(2);
    expectUsageError(none.stderr, /missing endpoint/, "etcd-naming del [options] <service> [addr-or-id]");
    const both = await runInProcess(["del", "svc", "1.2.3.4:1", "--all"]);
    expect(both.code).toBe(2);
    expectUsageError(
      both.stderr,
      /either an endpoint or --all/,
      "etcd-naming del [options] <service> [addr-or-id]",
    );
  });

  it("del --all without --yes when stdin is not a terminal", async () => {
    const run = await runInProcess(["del", "svc", "--all"]);
    expect(run.code).toBe(2);
    expectUsageError(run.stderr, /pass --yes/, "etcd-naming del [options] <service> [addr-or-id]");
  });

  it("bad --ttl, --dial-timeout and --endpoints", async () => {
    const ttl = await runInProcess(["register", "svc", "1.2.3.4:1", "--ttl", "1"]);
    expect(ttl.code).toBe(2);
    expect(ttl.stderr).toMatch(/^error: invalid --ttl 1: etcd's minimum lease TTL is 2s/);
    const notNumber = await runInProcess(["register", "svc", "1.2.3.4:1", "--ttl", "ten"]);
    expect(notNumber.code).toBe(2);
    const tooLong = await runInProcess(["register", "svc", "1.2.3.4:1", "--ttl", "99999999999"]);
    expect(tooLong.code).toBe(2);
    expect(tooLong.stderr).toMatch(/^error: invalid --ttl 99999999999: must be at most 2147483 seconds/);
    const dial = await runInProcess(["list", "svc", "--dial-timeout", "soon"]);
    expect(dial.code).toBe(2);
    expect(dial.stderr).toMatch(/^error: invalid --dial-timeout "soon"/);
    const endpoints = await runInProcess(["list", "svc", "--endpoints", "http://a:1,https://b:2"]);
    expect(endpoints.code).toBe(2);
    expect(endpoints.stderr).toMatch(/^error: --endpoints mixes https:\/\/ and plaintext/);
  });

  it("--cert without --key, and unreadable TLS files", async () => {
    const half = await runInProcess(["list", "svc", "--cert", "c.pem"]);
    expect(half.code).toBe(2);
    expect(half.stderr).toMatch(/^error: --cert and --key go together/);
    const missing = await runInProcess(["list", "svc", "--cacert", "/nonexistent/ca.pem"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^error: cannot read --cacert file "\/nonexistent\/ca.pem": ENOENT/);
  });
});

describe("passwords", () => {
  it("refuses to guess a missing password off a terminal, and never prints one", async () => {
    const run = await runInProcess(["list", "svc", "--user", "root"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^error: no password for user "root": set ETCD_PASSWORD/);
  });

  it("asks on a terminal, warns about plaintext, and keeps the password out of every message", async () => {
    const password = vi.fn(async () => "hunter2-secret");
    const confirm = vi.fn(async () => false);
    const run = await runInProcess(
      ["list", "svc", "--user", "root", "--endpoints", "127.0.0.1:1", "--dial-timeout", "1s"],
      {
        isTTY: { stdin: true, stdout: false, stderr: false },
        prompter: { password, confirm },
      },
    );
    expect(password).toHaveBeenCalledWith("Password for root: ");
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^warning: sending the password of user "root" in plaintext to 127\.0\.0\.1:1/m,
    );
    expect(run.stderr).not.toContain("hunter2-secret");
  });

  it("does not echo the value of a mistyped option, which may be a password", async () => {
    const run = await runInProcess(["list", "svc", "--passwrd=hunter2-typo"]);
    expect(run.code).toBe(2);
    expectUsageError(
      run.stderr,
      /^error: unknown option '--passwrd=\*\*\*'/,
      "etcd-naming list [options] <service>",
    );
    expect(run.stderr).not.toContain("hunter2-typo");
  });

  it("takes name:password from --user and ETCD_PASSWORD without echoing either", async () => {
    const inline = await runInProcess([
      "list",
      "svc",
      "--user",
      "root:s3cret-inline",
      "--endpoints",
      "127.0.0.1:1",
    ]);
    expect(inline.code).toBe(1);
    expect(inline.stderr).toContain("plaintext");
    expect(inline.stderr + inline.stdout).not.toContain("s3cret-inline");
    const fromEnv = await runInProcess(["list", "svc", "--user", "root", "--endpoints", "127.0.0.1:1"], {
      env: { ETCD_PASSWORD: "s3cret-env" },
    });
    expect(fromEnv.code).toBe(1);
    expect(fromEnv.stderr + fromEnv.stdout).not.toContain("s3cret-env");
  });
});

describe("unreachable etcd", () => {
  it("exits 1 naming the endpoints tried and suggesting --endpoints", async () => {
    const started = Date.now();
    const run = await runInProcess(["list", "svc", "--endpoints", "127.0.0.1:1", "--dial-timeout", "2s"]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toMatch(
      /^error: cannot reach etcd at 127\.0\.0\.1:1 \(tried 127\.0\.0\.1:1\): .+\. Is etcd running\? Pass --endpoints or set ETCD_ENDPOINTS\.\n$/,
    );
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("says where the endpoints came from when they are not a flag", async () => {
    const fromEnv = await runInProcess(["list", "svc", "--dial-timeout", "1s"], {
      env: { ETCD_ENDPOINTS: "127.0.0.1:1" },
    });
    expect(fromEnv.stderr).toContain("(tried 127.0.0.1:1 from ETCD_ENDPOINTS)");
    const fromEtcdctl = await runInProcess(["list", "svc", "--dial-timeout", "1s"], {
      env: { ETCDCTL_ENDPOINTS: "127.0.0.1:1,127.0.0.1:2" },
    });
    expect(fromEtcdctl.stderr).toContain("(tried 127.0.0.1:1, 127.0.0.1:2 from ETCDCTL_ENDPOINTS)");
  });
});
