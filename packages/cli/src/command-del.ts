import { keyFromBytes, keyToBytes, printableKey, servicePrefix } from "@etcd-naming/codec";
import { prefixRangeEnd } from "@etcd-naming/etcd";
import { CliError, usageError } from "./cli-error.js";
import type { CommandContext } from "./context.js";
import { endpointKeyArg, serviceArg } from "./endpoint-args.js";
import { readService } from "./registry.js";

export interface DelOptions {
  all?: boolean;
  yes?: boolean;
}

/** `del`: one endpoint by id, address or key; or `--all` of them after a confirmation. */
export async function delCommand(
  ctx: CommandContext,
  service: string,
  target: string | undefined,
  options: DelOptions,
): Promise<number> {
  serviceArg(service);
  if (options.all === true) {
    if (target !== undefined) throw usageError("pass either an endpoint or --all, not both");
    if (options.yes !== true && !ctx.tty.stdin) {
      throw usageError(
        `--all deletes every endpoint of "${service}": pass --yes to confirm (stdin is not a terminal)`,
      );
    }
    return deleteAll(ctx, service, options.yes === true);
  }
  if (target === undefined) {
    throw usageError(
      `missing endpoint: pass an address, an id or a key under "${servicePrefix(service)}" (or --all)`,
    );
  }
  const key = endpointKeyArg(service, target, "endpoint");
  const client = await ctx.connect();
  const response = await client.kv.deleteRange({ key: Buffer.from(key) });
  let deleted = Number(response.deleted) > 0 ? [key] : [];
  if (deleted.length === 0) {
    // Not an id: it may be the address of an endpoint registered under another id (`--key`).
    const { endpoints } = await readService(client, service);
    const matches = endpoints.filter((e) => e.addr === target);
    if (matches.length > 1) {
      throw usageError(
        `address "${target}" matches ${matches.length} endpoints in ${service} (${matches.map((m) => printableKey(m.key)).join(", ")}): pass the key`,
      );
    }
    const match = matches[0];
    if (match !== undefined) {
      const byAddr = await client.kv.deleteRange({ key: Buffer.from(keyToBytes(match.key)) });
      if (Number(byAddr.deleted) > 0) deleted = [match.key];
    }
  }
  if (deleted.length === 0) throw new CliError("NOT_FOUND", `no endpoint "${target}" in ${service}`);
  report(ctx, deleted);
  return 0;
}

async function deleteAll(ctx: CommandContext, service: string, confirmed: boolean): Promise<number> {
  const client = await ctx.connect();
  const { endpoints, skipped } = await readService(client, service);
  const count = endpoints.length + skipped.length;
  if (count === 0) throw new CliError("NOT_FOUND", `no endpoints in ${service}`);
  if (!confirmed) {
    const what = count === 1 ? "1 key" : `${count} keys`;
    const yes = await ctx.prompter.confirm(`Delete ${what} under ${servicePrefix(service)}? [y/N] `);
    if (!yes) throw new CliError("ABORTED", "not confirmed; nothing was deleted");
  }
  const prefix = Buffer.from(servicePrefix(service));
  const response = await client.kv.deleteRange({
    key: prefix,
    range_end: prefixRangeEnd(prefix),
    prev_kv: true,
  });
  const deleted = response.prev_kvs.map((kv) => keyFromBytes(kv.key)).sort();
  if (deleted.length === 0) throw new CliError("NOT_FOUND", `no endpoints in ${service}`);
  report(ctx, deleted);
  return 0;
}

function report(ctx: CommandContext, keys: string[]): void {
  if (ctx.out.format === "table" || ctx.out.format === "fields") {
    ctx.out.records(
      keys.map((deleted) => ({ deleted })),
      () => {},
    );
    return;
  }
  ctx.out.record({ deleted: keys }, () => {
    for (const key of keys) ctx.out.line(`${ctx.out.paint("red", "deleted")} ${printableKey(key)}`);
  });
}
