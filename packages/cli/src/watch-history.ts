import { decodeEndpoint, keyFromBytes, keyToBytes, servicePrefix } from "@etcd-naming/codec";
import type { Etcd3, Watcher } from "etcd3";
import { CliError, usageError } from "./cli-error.js";
import type { CommandContext } from "./context.js";

/** A change as `watch` prints it. */
export interface WatchChange {
  op: "add" | "update" | "delete";
  key: string;
  addr?: string;
  metadata?: unknown;
  revision: number;
}

/** `--rev N`: a positive integer revision. */
export function revisionArg(text: string): string {
  if (!/^[1-9]\d{0,18}$/.test(text.trim())) {
    throw usageError(`invalid --rev ${JSON.stringify(text)}: expected a revision number such as 42`);
  }
  return text.trim();
}

/**
 * `watch --rev N`: etcd's own watch from revision N, so past changes are printed first (in order, each
 * with its revision) and live ones after; a compacted revision fails with etcd's compaction message.
 * Values that are not endpoints are warned about, never printed as changes.
 */
export async function watchFromRevision(
  ctx: CommandContext,
  client: Etcd3,
  service: string,
  rev: string,
  print: (change: WatchChange) => void,
  stop: Promise<string>,
): Promise<string> {
  const prefix = Buffer.from(keyToBytes(servicePrefix(service)));
  let watcher: Watcher | undefined;
  let fail: (error: unknown) => void = () => {};
  const failed = new Promise<never>((_, reject) => {
    fail = reject;
  });
  try {
    watcher = await client.watch().prefix(prefix).startRevision(rev).create();
    watcher.on("put", (kv) => {
      const key = keyFromBytes(kv.key);
      const decoded = decodeEndpoint(kv.value);
      if (!decoded.ok) return ctx.out.warn(`${key}: ${decoded.error.message}`);
      const { addr, metadata } = decoded.endpoint;
      const op = kv.version === "1" ? "add" : "update";
      print({ op, key, addr, metadata, revision: Number(kv.mod_revision) });
    });
    watcher.on("delete", (kv) =>
      print({ op: "delete", key: keyFromBytes(kv.key), revision: Number(kv.mod_revision) }),
    );
    watcher.on("error", (error) =>
      fail(new CliError("ETCD", `watch from revision ${rev} failed: ${error.message}`, { cause: error })),
    );
    ctx.out.note(`watching ${service} from revision ${rev}; Ctrl-C to stop`);
    return await Promise.race([stop, failed]);
  } finally {
    await watcher?.cancel().catch(() => {});
  }
}
