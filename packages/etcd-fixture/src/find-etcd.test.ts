import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  etcdInstallCommand,
  etcdNamingCache,
  etcdVersionOf,
  findEtcdBinary,
  resolveEtcd,
  TESTED_ETCD_VERSIONS,
} from "./find-etcd.js";

const dir = mkdtempSync(join(tmpdir(), "find-etcd-"));
const fake = join(dir, "etcd");
writeFileSync(fake, "#!/bin/sh\n");
chmodSync(fake, 0o755);
const notExecutable = join(dir, "etcd-plain");
writeFileSync(notExecutable, "");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An executable that answers `--version` the way etcd does. */
function fakeEtcd(path: string, version: string): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `#!/bin/sh\necho "etcd Version: ${version}"\necho "Git SHA: Not provided"\n`);
  chmodSync(path, 0o755);
  return path;
}

// The cache folder the scripts fill: <cache>/etcd-<version>/usr/bin/etcd.
const cache = join(dir, "cache");
const cached3516 = fakeEtcd(join(cache, "etcd-3.5.16", "usr", "bin", "etcd"), "3.5.16");
const cached3530 = fakeEtcd(join(cache, "etcd-3.5.30", "usr", "bin", "etcd"), "3.5.30");
const wrong = fakeEtcd(join(cache, "etcd-3.5.99", "usr", "bin", "etcd"), "3.5.98");
const system = fakeEtcd(join(dir, "system", "etcd"), "3.4.23");

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

  it("resolves a version from the cache folder, ahead of ETCD_BIN", () => {
    const env = { ETCD_NAMING_CACHE: cache, ETCD_BIN: system, PATH: dirname(system) };
    expect(findEtcdBinary({ version: "3.5.30", env })).toBe(cached3530);
    expect(resolveEtcd({ version: "3.5.16", env })).toEqual({ path: cached3516, version: "3.5.16" });
    // Without a version, ETCD_BIN stays the run-wide default.
    expect(resolveEtcd({ env })).toEqual({ path: system, version: "3.4.23" });
  });

  it("uses ETCD_BIN or the etcd on PATH when it is the version asked for", () => {
    expect(findEtcdBinary({ version: "3.4.23", env: { ETCD_NAMING_CACHE: cache, ETCD_BIN: system } })).toBe(
      system,
    );
    expect(
      findEtcdBinary({
        version: "3.4.23",
        env: { ETCD_NAMING_CACHE: cache, PATH: `/nope:${dirname(system)}` },
      }),
    ).toBe(system);
  });

  it("fails on a missing version, naming the cache path and the script that fetches it", () => {
    const error = (() => {
      try {
        findEtcdBinary({ version: "3.5.17", env: { ETCD_NAMING_CACHE: cache, PATH: dirname(system) } });
      } catch (e) {
        return e as Error & { code: string };
      }
      throw new Error("no error");
    })();
    expect(error.code).toBe("ETCD_NOT_FOUND");
    expect(error.message).toContain(join(cache, "etcd-3.5.17", "usr", "bin", "etcd"));
    expect(error.message).toContain("bash scripts/fetch-etcd.sh");
    expect(error.message).toContain(`${system} is 3.4.23`);
  });

  it("rejects a cached binary that reports another version", () => {
    expect(() => findEtcdBinary({ version: "3.5.99", env: { ETCD_NAMING_CACHE: cache } })).toThrow(
      expect.objectContaining({
        code: "ETCD_NOT_FOUND",
        message: expect.stringContaining(`${wrong} reports etcd 3.5.98, not 3.5.99`),
      }),
    );
  });

  it("rejects a malformed version, and a version together with etcdBin", () => {
    expect(() => findEtcdBinary({ version: "3.5", env: { ETCD_NAMING_CACHE: cache } })).toThrow(
      expect.objectContaining({ code: "INVALID_OPTIONS" }),
    );
    expect(() => findEtcdBinary({ version: "../3.5.30", env: { ETCD_NAMING_CACHE: cache } })).toThrow(
      expect.objectContaining({ code: "INVALID_OPTIONS" }),
    );
    expect(() => findEtcdBinary({ etcdBin: system, version: "3.4.23", env: {} })).toThrow(
      expect.objectContaining({ code: "INVALID_OPTIONS" }),
    );
  });

  it("finds the cache folder the way the scripts do", () => {
    expect(etcdNamingCache({ ETCD_NAMING_CACHE: "/c", XDG_CACHE_HOME: "/x", HOME: "/h" })).toBe("/c");
    expect(etcdNamingCache({ XDG_CACHE_HOME: "/x", HOME: "/h" })).toBe("/x/etcd-naming");
    expect(etcdNamingCache({ HOME: "/h" })).toBe("/h/.cache/etcd-naming");
  });

  it("reads the version etcd reports, and says unknown when it does not", () => {
    expect(etcdVersionOf(system)).toBe("3.4.23");
    expect(etcdVersionOf(fake)).toBe("unknown");
    expect(etcdVersionOf(join(dir, "missing"))).toBe("unknown");
    expect(TESTED_ETCD_VERSIONS).toEqual(["3.4.23", "3.5.16", "3.5.30"]);
  });

  it("adds sudo to the install command unless root", () => {
    expect(etcdInstallCommand(0)).toBe("apt-get install -y etcd-server");
    expect(etcdInstallCommand(1000)).toBe("sudo apt-get install -y etcd-server");
  });
});
