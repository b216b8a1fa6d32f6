import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { etcdInstallCommand, findEtcdBinary } from "./find-etcd.js";

const dir = mkdtempSync(join(tmpdir(), "find-etcd-"));
const fake = join(dir, "etcd");
writeFileSync(fake, "#!/bin/sh\n");
chmodSync(fake, 0o755);
const notExecutable = join(dir, "etcd-plain");
writeFileSync(notExecutable, "");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("findEtcdBinary", () => {
  it("prefers options.etcdBin, then ETCD_BIN, then PATH", () => {
    expect(findEtcdBinary({ etcdBin: fake, env: { ETCD_BIN: "/nope", PATH: "/nope" } })).toBe(fake);
    expect(findEtcdBinary({ env: { ETCD_BIN: fake, PATH: "/nope" } })).toBe(fake);
    expect(findEtcdBinary({ env: { PATH: `/nope:${dir}` } })).toBe(fake);
  });

  it("fails with the install command when etcd is not on PATH", () => {
    expect(() => findEtcdBinary({ env: { PATH: "/nope" } })).toThrow(
      expect.objectContaining({
        code: "ETCD_NOT_FOUND",
        message: expect.stringContaining("apt-get install -y etcd-server"),
      }),
    );
  });

  it("does not fall back to PATH when an explicit binary is unusable", () => {
    expect(() => findEtcdBinary({ env: { ETCD_BIN: notExecutable, PATH: dir } })).toThrow(
      expect.objectContaining({ code: "ETCD_NOT_FOUND", message: expect.stringContaining("ETCD_BIN") }),
    );
  });

  it("adds sudo to the install command unless root", () => {
    expect(etcdInstallCommand(0)).toBe("apt-get install -y etcd-server");
    expect(etcdInstallCommand(1000)).toBe("sudo apt-get install -y etcd-server");
  });
});
