import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Runs the real `etcdctl` (API v3) against `endpoints`. */
export async function etcdctl(endpoints: readonly string[], args: string[]): Promise<string> {
  const { stdout } = await run("etcdctl", ["--endpoints", endpoints.join(","), ...args], {
    env: { ...process.env, ETCDCTL_API: "3" },
    timeout: 10_000,
  });
  return stdout;
}

/** etcdctl speaks hex lease ids; etcd3 and the registrar use decimal strings. */
export function hexLease(leaseId: string): string {
  return BigInt(leaseId).toString(16);
}

/** `etcdctl lease timetolive <id> --keys`: remaining TTL (-1 once gone) and the attached keys. */
export async function leaseTimeToLive(
  endpoints: readonly string[],
  leaseId: string,
): Promise<{ ttl: number; grantedTtl: number; keys: string[] }> {
  const out = await etcdctl(endpoints, ["lease", "timetolive", hexLease(leaseId), "--keys", "-w", "json"]);
  // Ids are 64-bit: read only the small fields from the JSON.
  const ttl = Number(/"ttl":(-?\d+)/.exec(out)?.[1]);
  const grantedTtl = Number(/"granted-ttl":(-?\d+)/.exec(out)?.[1]);
  const keysJson = /"keys":(null|\[[^\]]*\])/.exec(out)?.[1] ?? "null";
  const keys = ((JSON.parse(keysJson) as string[] | null) ?? []).map((k) =>
    Buffer.from(k, "base64").toString(),
  );
  return { ttl, grantedTtl, keys };
}
