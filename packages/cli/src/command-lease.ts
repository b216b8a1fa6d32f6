import { keyFromBytes, printableKey } from "@etcd-naming/codec";
import { usageError } from "./cli-error.js";
import type { CommandContext } from "./context.js";
import { leaseHex } from "./registry.js";

/** `lease` as `-w json` prints it. */
export interface LeaseInfo {
  /** Hex, as etcdctl prints it. */
  id: string;
  /** The TTL the lease was granted with, in seconds. */
  grantedTtl: number;
  /** Seconds left; -1 when the lease expired or never existed. */
  ttl: number;
  keys: string[];
}

/** A lease id as typed: hex (as etcdctl and `list` print it, `0x` optional), into etcd's decimal form. */
export function leaseIdArg(text: string): string {
  const hex = text.trim().replace(/^0x/i, "");
  if (!/^[0-9a-f]{1,16}$/i.test(hex) || /^0+$/.test(hex)) {
    throw usageError(
      `invalid lease id ${JSON.stringify(text)}: expected hex as list prints it, e.g. 694d8b2a1c3e5f07`,
    );
  }
  return BigInt(`0x${hex}`).toString();
}

/** `lease <id>`: the lease's TTLs and its keys, or exit 1 when etcd does not know it. */
export async function leaseCommand(ctx: CommandContext, text: string): Promise<number> {
  const id = leaseIdArg(text);
  const client = await ctx.connect();
  const response = await client.leaseClient.leaseTimeToLive({ ID: id, keys: true });
  const info: LeaseInfo = {
    id: leaseHex(id) ?? text,
    grantedTtl: Number(response.grantedTTL),
    ttl: Number(response.TTL),
    keys: response.keys.map((k) => keyFromBytes(k)).sort(),
  };
  const { out } = ctx;
  if (info.ttl < 0) {
    out.error(`lease ${info.id} not found (expired or revoked)`);
    return 1;
  }
  if (out.format === "table" || out.format === "fields") {
    out.record({ ...info, keys: info.keys.join(",") }, () => {});
    return 0;
  }
  out.record(info, () => {
    out.line(`lease ${info.id} granted with TTL(${info.grantedTtl}s), remaining(${info.ttl}s)`);
    for (const key of info.keys) out.line(`  ${printableKey(key)}`);
  });
  return 0;
}
