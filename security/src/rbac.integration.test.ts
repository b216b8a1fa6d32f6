// Username/password auth with short-lived simple tokens, least-privilege roles, and what every package
// and the CLI do when etcd refuses them something. One TLS etcd with auth for the whole file.
import { liveResumableWatches } from "@etcd-naming/etcd";
import { callGreeterOnce, startGreeter } from "@etcd-naming/etcd-fixture/greeter";
import { registerEtcdResolver } from "@etcd-naming/grpc-js";
import { RegistrarError, register } from "@etcd-naming/registrar";
import {
  createEtcd3Source,
  type ServiceWatcher,
  type WatcherError,
  watchService,
} from "@etcd-naming/watcher";
import type { IOptions } from "etcd3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./run-cli.js";
import { type SecureEtcd, secretPassword, startSecureEtcd } from "./secure-etcd.js";

const TOKEN_TTL_S = 2;
const poll = { timeout: 15_000, interval: 50 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let etcd: SecureEtcd;
const writer = { user: "registrar-svc", password: secretPassword("writer") };
const reader = { user: "resolver-svc", password: secretPassword("reader") };
const outsider = { user: "other-svc", password: secretPassword("outsider") };
const pauser = { user: "pausing-svc", password: secretPassword("pauser") };
const passwords = [writer.password, reader.password, outsider.password, pauser.password];
const logged: string[] = [];
/** Each line as its message and its fields, errors with their message and stack. */
const log = (fields: Record<string, unknown>, message: string) =>
  logged.push(
    `${message} ${JSON.stringify(fields, (_k, v) => (v instanceof Error ? `${v.message}\n${v.stack}` : v))}`,
  );
const logger = { warn: log, info: log, debug: log, error: log };

/** Counts the unary calls a client makes, by method, to prove nothing retries in a tight loop. */
function counted(): { calls: Map<string, number>; options: Partial<IOptions> } {
  const calls = new Map<string, number>();
  return {
    calls,
    options: {
      defaultCallOptions: (context) => {
        if (!context.isStream) calls.set(context.method, (calls.get(context.method) ?? 0) + 1);
        return {};
      },
    },
  };
}

/** Registers `addr` in `service` as `user`, with a root client beside it to check the key. */
async function registerAs(
  user: { user: string; password: string },
  service: string,
  addr: string,
  ttl: number,
) {
  const client = etcd.client(user);
  const admin = etcd.client({ user: "root", password: etcd.rootPassword });
  const registration = await register({ client, service, addr, ttl, logger });
  return { client, admin, registration };
}

beforeAll(async () => {
  etcd = await startSecureEtcd({ auth: true, tokenTtl: TOKEN_TTL_S });
  await etcd.addUser(writer.user, writer.password, [{ permission: "readwrite", prefix: "svc/" }]);
  await etcd.addUser(reader.user, reader.password, [{ permission: "read", prefix: "svc/" }]);
  await etcd.addUser(outsider.user, outsider.password, [{ permission: "readwrite", prefix: "other/" }]);
  await etcd.addUser(pauser.user, pauser.password, [
    { permission: "readwrite", prefix: "svc/" },
    { permission: "readwrite", prefix: "/etcd-naming/paused/svc/" },
  ]);
}, 30_000);

afterAll(async () => {
  await etcd?.close();
  // Nothing any package logged may carry a password.
  for (const line of logged) for (const password of passwords) expect(line).not.toContain(password);
});

describe("least privilege: readwrite on svc/ registers, read on svc/ resolves", () => {
  it("registers, keeps alive across token expiries, re-registers and deregisters", {
    timeout: 30_000,
  }, async () => {
    const { admin, registration } = await registerAs(writer, "svc/greeter", "10.0.0.1:50051", 2);
    const key = "svc/greeter/10.0.0.1:50051";
    expect(await admin.get(key).string()).toContain("10.0.0.1:50051");

    // Several token lifetimes pass with only the keep-alive stream talking: the lease must survive.
    const lease = registration.leaseId;
    await sleep(TOKEN_TTL_S * 3 * 1000);
    expect(registration.leaseId).toBe(lease);
    expect(await admin.get(key).string()).toContain("10.0.0.1:50051");

    // Lease revoked by an operator: a new lease and the key back, with the writer's (refreshed) token.
    const back = new Promise<string>((resolve) => registration.once("reregistered", resolve));
    await admin.leaseClient.leaseRevoke({ ID: lease });
    expect(await back).not.toBe(lease);
    await expect.poll(() => admin.get(key).string(), poll).toContain("10.0.0.1:50051");

    // Deleted by hand after another token expiry: put back.
    await sleep(TOKEN_TTL_S * 1000 + 500);
    await admin.delete().key(key);
    await expect.poll(() => admin.get(key).string(), poll).toContain("10.0.0.1:50051");

    await registration.deregister();
    expect(await admin.get(key).string()).toBeNull();
  });

  it("a read-only user lists and watches across token expiries, and a channel resolves", {
    timeout: 30_000,
  }, async () => {
    const admin = etcd.client({ user: "root", password: etcd.rootPassword });
    const greeter = await startGreeter("read-only");
    await admin.put("svc/hello/a").value(JSON.stringify({ Op: 0, Addr: greeter.addr }));
    const client = etcd.client(reader);
    const watcher: ServiceWatcher = watchService(createEtcd3Source(client), "svc/hello", { logger });
    const handle = registerEtcdResolver({ client, scheme: "etcd-reader", logger });
    try {
      await expect.poll(() => watcher.snapshot().endpoints.map((e) => e.addr), poll).toEqual([greeter.addr]);
      expect(await callGreeterOnce("etcd-reader:///svc/hello", { deadlineMs: 3_000 })).toBe("read-only");

      // The watch stream outlives the reader's token; a reconnect must re-authenticate, not loop on it.
      await sleep(TOKEN_TTL_S * 2 * 1000 + 500);
      await admin.put("svc/hello/b").value(JSON.stringify({ Op: 0, Addr: "10.9.9.9:1" }));
      await expect.poll(() => watcher.snapshot().endpoints.length, poll).toBe(2);
      // Force a reconnect with an expired token: the watch is re-created and still delivers.
      await sleep(TOKEN_TTL_S * 2 * 1000 + 500);
      await etcd.server.restart();
      await admin.delete().key("svc/hello/b");
      await expect.poll(() => watcher.snapshot().endpoints.map((e) => e.addr), poll).toEqual([greeter.addr]);
    } finally {
      await watcher.close();
      await handle.close();
      greeter.close();
      await admin.delete().prefix("svc/hello/");
    }
  });
});

describe("denied is clear, and never a hot loop", () => {
  it("a read-only user cannot register: PERMISSION_DENIED naming the key and the permission", {
    timeout: 15_000,
  }, async () => {
    const { calls, options } = counted();
    const client = etcd.client({ ...reader, ...options });
    const error = await register({ client, service: "svc/denied", addr: "10.0.0.2:1", ttl: 2, logger }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RegistrarError);
    expect((error as RegistrarError).code).toBe("PERMISSION_DENIED");
    expect((error as RegistrarError).message).toContain("svc/denied/10.0.0.2:1");
    expect((error as RegistrarError).message).toMatch(
      /permission denied.*readwrite permission on the prefix svc\/denied\//,
    );
    const txns = calls.get("txn") ?? 0;
    expect(txns).toBe(1);
    await sleep(2000);
    expect(calls.get("txn") ?? 0).toBe(txns);
    const admin = etcd.client({ user: "root", password: etcd.rootPassword });
    expect(await admin.get("svc/denied/10.0.0.2:1").string()).toBeNull();
  });

  it("a watcher without read permission reports PERMISSION_DENIED and backs off", {
    timeout: 15_000,
  }, async () => {
    const client = etcd.client(outsider);
    const source = createEtcd3Source(client);
    const errors: WatcherError[] = [];
    const watcher = watchService(source, "svc/hello", { logger });
    watcher.on("error", (error) => errors.push(error));
    try {
      await expect.poll(() => errors.length, poll).toBeGreaterThan(0);
      expect(errors[0]!.code).toBe("PERMISSION_DENIED");
      expect(errors[0]!.message).toContain("permission denied");
      expect(errors[0]!.message).toContain("svc/hello/");
      const before = source.stats().lists;
      await sleep(3000);
      // Backoff from 200 ms doubling: at most a handful of attempts in 3 s, not hundreds.
      expect(source.stats().lists - before).toBeLessThanOrEqual(5);
      expect(watcher.snapshot().endpoints).toEqual([]);
    } finally {
      await watcher.close();
    }
  });

  it("a channel without read permission fails calls with permission denied as the reason", {
    timeout: 15_000,
  }, async () => {
    const client = etcd.client(outsider);
    const handle = registerEtcdResolver({ client, scheme: "etcd-outsider", logger });
    try {
      const error = (await callGreeterOnce("etcd-outsider:///svc/hello", { deadlineMs: 4000 }).catch(
        (e: unknown) => e,
      )) as {
        code?: number;
        details?: string;
      };
      expect(error.code).toBe(14);
      expect(error.details).toContain("permission denied");
      expect(error.details).toContain("svc/hello");
    } finally {
      await handle.close();
    }
  });

  it("the CLI exits 1 with the reason for list, watch, add and register", { timeout: 20_000 }, async () => {
    const asOutsider = { env: { ETCD_PASSWORD: outsider.password } };
    const list = await runCli([...etcd.cliArgs(outsider.user), "list", "svc/hello"], asOutsider);
    expect(list.code).toBe(1);
    expect(list.stderr).toMatch(/permission denied.*read permission on the prefix svc\/hello\//);

    const watch = await runCli([...etcd.cliArgs(outsider.user), "watch", "svc/hello"], asOutsider);
    expect(watch.code).toBe(1);
    expect(watch.stderr).toContain("permission denied");
    expect(watch.stderr).toContain("svc/hello/");

    const asReader = { env: { ETCD_PASSWORD: reader.password } };
    const add = await runCli([...etcd.cliArgs(reader.user), "add", "svc/hello", "10.0.0.3:1"], asReader);
    expect(add.code).toBe(1);
    expect(add.stderr).toMatch(/permission denied.*svc\/hello\/10\.0\.0\.3:1.*readwrite/);

    const registered = await runCli(
      [...etcd.cliArgs(reader.user), "register", "svc/hello", "10.0.0.4:1", "--ttl", "2"],
      asReader,
    );
    expect(registered.code).toBe(1);
    expect(registered.stderr).toMatch(/permission denied.*svc\/hello\/10\.0\.0\.4:1.*readwrite/);

    for (const out of [list, watch, add, registered]) {
      for (const password of passwords) expect(out.stdout + out.stderr).not.toContain(password);
    }
  });

  it("without a user, the CLI says the etcd needs one instead of calling it unreachable", {
    timeout: 15_000,
  }, async () => {
    const conn = etcd.cliArgs();
    for (const argv of [
      ["list", "svc/hello"],
      ["add", "svc/hello", "10.0.0.6:1"],
    ]) {
      const run = await runCli([...conn, ...argv]);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/authentication enabled and needs a user: pass --user/);
      expect(run.stderr).not.toContain("cannot reach");
    }
  });
});

describe("pausing needs readwrite on the marker prefix too", () => {
  it("without it, pause() is refused naming both prefixes, the endpoint stays served and markers go unwatched", {
    timeout: 20_000,
  }, async () => {
    const { client, admin, registration } = await registerAs(writer, "svc/nopause", "10.0.0.7:1", 5);
    try {
      // The marker watch was refused and given up, silently: only the delete watch is left.
      await expect.poll(() => liveResumableWatches(client), poll).toBe(1);
      const error = await registration.pause().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({
        code: "PERMISSION_DENIED",
        message:
          "etcd permission denied: pausing svc/nopause/10.0.0.7:1 needs the readwrite permission on the prefix svc/nopause/ and /etcd-naming/paused/svc/nopause/",
      });
      expect(registration.paused).toBe(false);
      expect(await admin.get(registration.key).string()).toContain("10.0.0.7:1");

      // The CLI says the same for its own user.
      const conn = etcd.cliArgs(writer.user);
      const run = await runCli([...conn, "pause", "svc/nopause", "10.0.0.7:1"], {
        env: { ETCD_PASSWORD: writer.password },
      });
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(
        /^error: etcd permission denied: pausing 10\.0\.0\.7:1 in svc\/nopause needs the readwrite permission on the prefixes svc\/nopause\/ and \/etcd-naming\/paused\/svc\/nopause\//,
      );
      expect(await admin.get(registration.key).string()).toContain("10.0.0.7:1");
    } finally {
      await registration.deregister();
    }
  });

  it("with it, a registrar and the CLI pause and resume", { timeout: 20_000 }, async () => {
    const { admin, registration } = await registerAs(pauser, "svc/pausing", "10.0.0.8:1", 5);
    try {
      await registration.pause();
      expect(await admin.get(registration.key).string()).toBeNull();
      await registration.resume();
      expect(await admin.get(registration.key).string()).toContain("10.0.0.8:1");

      const conn = etcd.cliArgs(pauser.user);
      const options = { env: { ETCD_PASSWORD: pauser.password } };
      const paused = await runCli([...conn, "pause", "svc/pausing", "10.0.0.8:1"], options);
      expect(paused).toMatchObject({ code: 0, stderr: "" });
      expect(registration.paused).toBe(true);
      expect(await admin.get(registration.key).string()).toBeNull();
      const resumed = await runCli([...conn, "resume", "svc/pausing", "10.0.0.8:1"], options);
      expect(resumed).toMatchObject({ code: 0, stderr: "" });
      expect(await admin.get(registration.key).string()).toContain("10.0.0.8:1");
      for (const out of [paused, resumed]) {
        for (const password of passwords) expect(out.stdout + out.stderr).not.toContain(password);
      }
    } finally {
      await registration.deregister();
    }
  });
});

describe("secrets", () => {
  it("a wrong password fails clearly, without echoing either password", { timeout: 15_000 }, async () => {
    const wrong = secretPassword("wrong");
    const run = await runCli([...etcd.cliArgs(`${writer.user}:${wrong}`), "list", "svc/x"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`user "${writer.user}"`);
    expect(run.stderr + run.stdout).not.toContain(wrong);

    const client = etcd.client({ user: writer.user, password: wrong });
    const error = await register({ client, service: "svc/x", addr: "10.0.0.5:1", ttl: 2, logger }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RegistrarError);
    const text = `${(error as Error).message} ${String((error as Error).cause)} ${(error as Error).stack}`;
    expect(text).not.toContain(wrong);
  });

  it("--help never shows a password, even one in the environment", async () => {
    const env = { ETCD_PASSWORD: writer.password, ETCDCTL_PASSWORD: writer.password };
    for (const argv of [["--help"], ["list", "--help"], ["register", "--help"], ["watch", "--help"]]) {
      const run = await runCli(argv, { env });
      expect(run.code).toBe(0);
      expect(run.stdout + run.stderr).not.toContain(writer.password);
    }
    const withUser = await runCli(["--user", `${writer.user}:${writer.password}`, "--help"], { env });
    expect(withUser.stdout + withUser.stderr).not.toContain(writer.password);
  });

  it("the CLI warns when a password would go over plaintext, and not over TLS", {
    timeout: 15_000,
  }, async () => {
    const env = { ETCD_PASSWORD: writer.password };
    const plain = await runCli(
      ["--endpoints", "127.0.0.1:1", "--dial-timeout", "300ms", "--user", writer.user, "list", "svc/x"],
      { env },
    );
    expect(plain.stderr).toMatch(/warning: sending the password of user "registrar-svc" in plaintext/);
    expect(plain.stderr).not.toContain(writer.password);
    const tls = await runCli([...etcd.cliArgs(writer.user), "list", "svc/x"], { env });
    expect(tls.code).toBe(0);
    expect(tls.stderr).not.toContain("plaintext");
  });
});
