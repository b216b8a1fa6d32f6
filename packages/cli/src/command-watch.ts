import { printableKey } from "@etcd-naming/codec";
import { createEtcd3Source, type ServiceEndpoint, watchService } from "@etcd-naming/watcher";
import { CliError } from "./cli-error.js";
import type { CommandContext } from "./context.js";
import { serviceArg } from "./endpoint-args.js";
import { whenAborted, within } from "./interrupt.js";
import { revisionArg, type WatchChange, watchFromRevision } from "./watch-history.js";

type Op = "add" | "update" | "delete";

const SYMBOL: Record<Op, string> = { add: "+", update: "~", delete: "-" };
const COLOR = { add: "green", update: "yellow", delete: "red" } as const;

/**
 * `watch`: the current endpoints, then one line per change, until SIGINT/SIGTERM. Each change carries the
 * time it arrived (`time`, ISO 8601) and etcd's revision; with `--rev N`, the changes since N come first.
 */
export async function watchCommand(
  ctx: CommandContext,
  service: string,
  options: { rev?: string | undefined } = {},
): Promise<number> {
  serviceArg(service);
  const rev = options.rev === undefined ? undefined : revisionArg(options.rev);
  const { out } = ctx;
  const interrupted = whenAborted(ctx.interrupted());
  const client = await ctx.connect();

  const show = (change: WatchChange): void => {
    const time = new Date().toISOString();
    const { op, key, addr, metadata, revision } = change;
    const record =
      op === "delete" ? { time, op, key, revision } : { time, op, key, addr, metadata, revision };
    out.record(record, () => {
      const fields = (op === "delete" ? [key] : [key, addr ?? ""]).map(printableKey);
      if (op !== "delete" && metadata !== null && metadata !== undefined)
        fields.push(JSON.stringify(metadata));
      out.line(`${out.paint("dim", time)} ${out.paint(COLOR[op], SYMBOL[op])} ${fields.join(" ")}`);
    });
  };
  if (rev !== undefined) {
    const signal = await watchFromRevision(ctx, client, service, rev, show, interrupted);
    out.note(`${signal}: stopping`);
    return 0;
  }
  const print = (op: Op, endpoint: ServiceEndpoint, revision: number): void =>
    show({ op, key: endpoint.key, addr: endpoint.addr, metadata: endpoint.metadata, revision });

  // One update per etcd response, so each change is printed as it happens.
  const watcher = watchService(createEtcd3Source(client), service, { coalesceMs: 0, logger: {} });
  watcher.on("update", (update) => {
    const revision = Number(update.revision);
    if (update.initial) {
      out.note(
        `watching ${service}: ${update.endpoints.length} endpoint(s) at revision ${update.revision}; Ctrl-C to stop`,
      );
    }
    for (const endpoint of update.removed) print("delete", endpoint, revision);
    for (const endpoint of update.added) print("add", endpoint, revision);
    for (const endpoint of update.updated) print("update", endpoint, revision);
  });
  // A refused read does not heal by retrying: stop with the reason instead of waiting forever.
  let refuse: (error: CliError) => void = () => {};
  const denied = new Promise<never>((_, reject) => {
    refuse = reject;
  });
  watcher.on("error", (error) => {
    // Malformed values are reported, never silently dropped; connection trouble is covered by "stale".
    if (error.code === "INVALID_VALUE") out.warn(error.message);
    if (error.code === "PERMISSION_DENIED") {
      const who = ctx.settings.user === undefined ? "this client" : `user "${ctx.settings.user.name}"`;
      refuse(
        new CliError("PERMISSION_DENIED", `etcd denied ${who} the watch: ${error.message}`, { cause: error }),
      );
    }
  });
  watcher.on("stale", (error) => {
    if (error.code !== "PERMISSION_DENIED") {
      out.warn(`lost etcd, retrying (the last known set stands): ${error.message}`);
    }
  });
  watcher.on("fresh", () => out.note("etcd reachable again"));

  let signal: string;
  try {
    signal = await Promise.race([interrupted, denied]);
  } catch (error) {
    await within(watcher.close(), ctx.settings.commandTimeoutMs);
    throw error;
  }
  out.note(`${signal}: stopping`);
  await within(watcher.close(), ctx.settings.commandTimeoutMs);
  return 0;
}
