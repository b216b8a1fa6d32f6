import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EtcdError, EtcdLeaseInvalidError, EtcdPermissionDeniedError, GRPCUnavailableError } from "etcd3";
import { afterAll, describe, expect, it } from "vitest";
import { CliError } from "./cli-error.js";
import {
  clientOptions,
  describeEtcdError,
  readInputFile,
  redactEndpoint,
  resolveConnection,
  unreachableError,
} from "./connection.js";

describe("resolveConnection", () => {
  it("defaults to 127.0.0.1:2379, etcdctl's 2 s dial timeout and a 5 s command timeout", () => {
    const settings = resolveConnection({}, {});
    expect(settings).toMatchObject({
      endpoints: ["127.0.0.1:2379"],
      endpointsSource: "default",
      secure: false,
      dialTimeoutMs: 2000,
      commandTimeoutMs: 5000,
    });
    expect(settings.user).toBeUndefined();
  });

  it("prefers --endpoints, then ETCD_ENDPOINTS, then ETCDCTL_ENDPOINTS", () => {
    const env = { ETCD_ENDPOINTS: "a:1", ETCDCTL_ENDPOINTS: "b:2" };
    expect(resolveConnection({ endpoints: "c:3, d:4 ," }, env)).toMatchObject({
      endpoints: ["c:3", "d:4"],
      endpointsSource: "flag",
    });
    expect(resolveConnection({}, env)).toMatchObject({
      endpoints: ["a:1"],
      endpointsSource: "ETCD_ENDPOINTS",
    });
    expect(resolveConnection({}, { ETCDCTL_ENDPOINTS: "b:2" })).toMatchObject({
      endpoints: ["b:2"],
      endpointsSource: "ETCDCTL_ENDPOINTS",
    });
  });

  it("reads etcdctl's other variables", () => {
    const settings = resolveConnection(
      {},
      {
        ETCDCTL_CACERT: "ca.pem",
        ETCDCTL_CERT: "c.pem",
        ETCDCTL_KEY: "c.key",
        ETCDCTL_USER: "alice",
        ETCDCTL_PASSWORD: "pw",
        ETCDCTL_DIAL_TIMEOUT: "2s",
        ETCDCTL_COMMAND_TIMEOUT: "750ms",
      },
    );
    expect(settings).toMatchObject({
      secure: true,
      tls: { cacert: "ca.pem", cert: "c.pem", key: "c.key" },
      user: { name: "alice", password: "pw" },
      dialTimeoutMs: 2000,
      commandTimeoutMs: 750,
    });
  });

  it("splits --user at the first colon and prefers ETCD_PASSWORD over ETCDCTL_PASSWORD", () => {
    expect(resolveConnection({ user: "bob:pa:ss" }, {}).user).toEqual({ name: "bob", password: "pa:ss" });
    expect(
      resolveConnection({ user: "bob" }, { ETCD_PASSWORD: "one", ETCDCTL_PASSWORD: "two" }).user,
    ).toEqual({
      name: "bob",
      password: "one",
    });
    expect(resolveConnection({ user: "bob" }, {}).user).toEqual({ name: "bob" });
  });

  it("rejects malformed values without echoing a password", () => {
    let caught: unknown;
    try {
      resolveConnection({ user: ":topsecret" }, {});
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(CliError);
    expect((caught as CliError).message).not.toContain("topsecret");
    expect(() => resolveConnection({ endpoints: " , " }, {})).toThrow(/--endpoints is empty/);
    expect(() => resolveConnection({ endpoints: "a b:1" }, {})).toThrow(/invalid endpoint "a b:1"/);
    expect(() => resolveConnection({}, { ETCD_ENDPOINTS: "https://a:1,b:2" })).toThrow(
      /ETCD_ENDPOINTS mixes/,
    );
  });

  it("drops a trailing slash and lower-cases the scheme, as etcdctl accepts them", () => {
    expect(
      resolveConnection({ endpoints: "http://127.0.0.1:2379/,HTTP://a:1,b:2/,[::1]:3" }, {}).endpoints,
    ).toEqual(["http://127.0.0.1:2379", "http://a:1", "b:2", "[::1]:3"]);
    const secure = resolveConnection({ endpoints: "HTTPS://[::1]:4/" }, {});
    expect(secure).toMatchObject({ endpoints: ["https://[::1]:4"], secure: true });
    expect(resolveConnection({ endpoints: "etcd.local" }, {}).endpoints).toEqual(["etcd.local"]);
  });

  it.each([
    ["http://:2379", /no host/],
    ["[]:1", /no host/],
    ["h:", /port must be a number from 1 to 65535/],
    ["h:65536", /port must be a number from 1 to 65535/],
    ["h:00000001", /port must be a number from 1 to 65535/],
    ["unix:///tmp/etcd.sock", /expected host:port or http\(s\):\/\/host:port/],
    ["http://h:1/v3", /expected host:port/],
    ["http://h:1//", /expected host:port/],
    ["::1:2379", /IPv6 in brackets/],
  ])("refuses the endpoint %s", (endpoint, reason) => {
    expect(() => resolveConnection({ endpoints: endpoint }, {})).toThrow(reason);
  });

  it("refuses credentials in an endpoint and never shows them", () => {
    for (const endpoint of [
      "http://u:s3cr3t@h:1",
      "u:s3cr3t@h:1",
      "http://u:s3/cr3t@h:1",
      "https://t0k3n@h:1",
    ]) {
      let caught: unknown;
      try {
        resolveConnection({}, { ETCD_ENDPOINTS: `a:1,${endpoint}` });
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(CliError);
      const message = (caught as CliError).message;
      expect(message).toContain("***@");
      expect(message).toContain("pass --user <name> and set ETCD_PASSWORD");
      expect(message).not.toMatch(/s3|cr3t|t0k3n/);
    }
    expect(redactEndpoint("http://u:p@h:1")).toBe("http://***@h:1");
    expect(redactEndpoint("h:1")).toBe("h:1");
  });

  it("treats https:// endpoints as secure", () => {
    expect(resolveConnection({ endpoints: "https://a:1" }, {}).secure).toBe(true);
  });
});

describe("clientOptions", () => {
  const dir = mkdtempSync(join(tmpdir(), "etcd-naming-cli-tls-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("maps TLS files to etcd3 credentials and the user to auth", () => {
    for (const [name, text] of [
      ["ca.pem", "CA"],
      ["c.pem", "CERT"],
      ["c.key", "KEY"],
    ]) {
      writeFileSync(join(dir, name as string), text as string);
    }
    const settings = resolveConnection(
      { cacert: join(dir, "ca.pem"), cert: join(dir, "c.pem"), key: join(dir, "c.key"), user: "u:p" },
      {},
    );
    const options = clientOptions(settings);
    expect(options.hosts).toEqual(["127.0.0.1:2379"]);
    expect(options.credentials?.rootCertificate.toString()).toBe("CA");
    expect(options.credentials?.certChain?.toString()).toBe("CERT");
    expect(options.credentials?.privateKey?.toString()).toBe("KEY");
    expect(options.auth).toEqual({ username: "u", password: "p" });
  });

  it("gives unary calls the command timeout and leaves streams alone", () => {
    const options = clientOptions(resolveConnection({ commandTimeout: "3s" }, {}));
    const factory = options.defaultCallOptions as (context: { isStream: boolean }) => { deadline?: number };
    const before = Date.now();
    const deadline = factory({ isStream: false }).deadline ?? 0;
    expect(deadline).toBeGreaterThanOrEqual(before + 3000);
    expect(deadline).toBeLessThan(before + 4000);
    expect(factory({ isStream: true })).toEqual({});
    expect(options.credentials).toBeUndefined();
    expect(options.auth).toBeUndefined();
  });
});

describe("readInputFile", () => {
  const dir = mkdtempSync(join(tmpdir(), "etcd-naming-files-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const failure = (path: string): string => {
    try {
      readInputFile("--cacert", path);
    } catch (error) {
      expect(error).toBeInstanceOf(CliError);
      expect((error as CliError).exitCode).toBe(2);
      return (error as CliError).message;
    }
    throw new Error(`${path} was read`);
  };

  it("reads a regular file up to 4 MiB", () => {
    const limit = join(dir, "limit.pem");
    writeFileSync(limit, Buffer.alloc(4 * 1024 * 1024, 0x41));
    expect(readInputFile("--cacert", limit).length).toBe(4 * 1024 * 1024);
    writeFileSync(limit, Buffer.alloc(4 * 1024 * 1024 + 1, 0x41));
    expect(failure(limit)).toBe(`cannot read --cacert file "${limit}": larger than 4 MiB`);
  });

  it("refuses what is not a regular file, and names what it is", () => {
    expect(failure("/dev/zero")).toBe(
      'cannot read --cacert file "/dev/zero": not a regular file (a character device)',
    );
    expect(failure(dir)).toBe(`cannot read --cacert file "${dir}": not a regular file (a directory)`);
    expect(failure(join(dir, "missing"))).toBe(`cannot read --cacert file "${join(dir, "missing")}": ENOENT`);
  });
});

describe("unreachableError", () => {
  it("extracts the socket error from gRPC's message", () => {
    const settings = resolveConnection({ endpoints: "127.0.0.1:1" }, {});
    const error = unreachableError(
      settings,
      new Error(
        "14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1. Resolution note: ",
      ),
    );
    expect(error.code).toBe("UNREACHABLE");
    expect(error.exitCode).toBe(1);
    expect(error.message).toBe(
      "cannot reach etcd at 127.0.0.1:1 (tried 127.0.0.1:1): connect ECONNREFUSED 127.0.0.1:1. " +
        "Is etcd running? Pass --endpoints or set ETCD_ENDPOINTS.",
    );
  });

  it("mentions the default when no endpoints were given", () => {
    const error = unreachableError(resolveConnection({}, {}), new Error("no answer within 5000 ms"));
    expect(error.message).toContain("(tried 127.0.0.1:2379, the default): no answer within 5000 ms.");
  });
});

describe("describeEtcdError", () => {
  it("reports an RBAC refusal as PERMISSION_DENIED with the user, keeping the packages' detail", () => {
    const raw = describeEtcdError(
      { ...settings, user: { name: "reader" } },
      new EtcdPermissionDeniedError("etcdserver: permission denied"),
    );
    expect(raw.code).toBe("PERMISSION_DENIED");
    expect(raw.exitCode).toBe(1);
    expect(raw.message).toBe('etcd denied user "reader" the request');
    const detailed = Object.assign(new Error("etcd permission denied: writing svc/a needs readwrite"), {
      code: "PERMISSION_DENIED",
    });
    const wrapped = describeEtcdError(settings, detailed);
    expect(wrapped.code).toBe("PERMISSION_DENIED");
    expect(wrapped.message).toBe(
      "etcd denied this client the request: etcd permission denied: writing svc/a needs readwrite",
    );
  });

  const settings = resolveConnection({ endpoints: "127.0.0.1:2379" }, {});

  it("tells etcd's refusals from faults of the program", () => {
    const etcdError = describeEtcdError(settings, new EtcdLeaseInvalidError("7587"));
    expect(etcdError.code).toBe("ETCD");
    expect(etcdError.message).toMatch(/^etcd request failed: .*7587/);
    const bug = describeEtcdError(settings, new TypeError("x is not a function"));
    expect(bug.code).toBe("INTERNAL");
    expect(bug.message).toBe("unexpected failure: x is not a function");
    expect(describeEtcdError(settings, new GRPCUnavailableError("14 UNAVAILABLE: down")).code).toBe(
      "UNREACHABLE",
    );
  });

  it("says a user is needed when etcd has authentication enabled and none was given", () => {
    const error = describeEtcdError(
      settings,
      new EtcdError("3 INVALID_ARGUMENT: etcdserver: user name is empty"),
    );
    expect(error.code).toBe("AUTH");
    expect(error.exitCode).toBe(1);
    expect(error.message).toBe(
      "etcd at 127.0.0.1:2379 has authentication enabled and needs a user: " +
        "pass --user NAME (or set ETCDCTL_USER) with the password in ETCD_PASSWORD",
    );
  });
});
