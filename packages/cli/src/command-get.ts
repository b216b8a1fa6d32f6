import { metadataAttributes, printableKey } from "@etcd-naming/codec";
import { CliError, usageError } from "./cli-error.js";
import { type ListedEndpoint, leaseTtls, toListed, ttlText } from "./command-list.js";
import type { CommandContext } from "./context.js";
import { endpointKeyArg, serviceArg } from "./endpoint-args.js";
import { readService } from "./registry.js";

/** `get <service> <addr-or-id>`: one endpoint with its revisions, lease and TTL; exit 1 when absent. */
export async function getCommand(ctx: CommandContext, service: string, target: string): Promise<number> {
  serviceArg(service);
  const key = endpointKeyArg(service, target, "endpoint");
  const client = await ctx.connect();
  const { endpoints, skipped } = await readService(client, service);
  let found = endpoints.find((e) => e.key === key);
  if (found === undefined) {
    // Not an id: it may be the address of an endpoint registered under another id (`--id`).
    const matches = endpoints.filter((e) => e.addr === target);
    if (matches.length > 1) {
      throw usageError(
        `address "${target}" matches ${matches.length} endpoints in ${service} (${matches.map((m) => printableKey(m.key)).join(", ")}): pass the id`,
      );
    }
    found = matches[0];
  }
  if (found === undefined) {
    const bad = skipped.find((s) => s.key === key);
    if (bad !== undefined)
      throw new CliError("NOT_FOUND", `${printableKey(key)} is not an endpoint: ${bad.reason}`);
    throw new CliError("NOT_FOUND", `no endpoint "${target}" in ${service}`);
  }
  const ttls = await leaseTtls(client, found.lease === "0" ? [] : [found.lease]);
  const item: ListedEndpoint = toListed(found, ttls);
  const { out } = ctx;
  out.record(item, () => {
    out.line(`${out.paint("bold", "key:")}       ${printableKey(item.key)}`);
    out.line(`${out.paint("bold", "address:")}   ${printableKey(item.addr)}`);
    out.line(
      `${out.paint("bold", "metadata:")}  ${item.metadata == null ? "-" : JSON.stringify(item.metadata)}`,
    );
    const attributes = metadataAttributes(item.metadata).attributes;
    if (Object.keys(attributes).length > 0)
      out.line(`${out.paint("bold", "attributes:")} ${JSON.stringify(attributes)}`);
    out.line(`${out.paint("bold", "lease:")}     ${item.lease ?? "- (permanent)"}`);
    if (item.lease !== undefined) out.line(`${out.paint("bold", "ttl:")}       ${ttlText(item.ttl)}`);
    out.line(
      `${out.paint("bold", "revision:")}  created ${item.createRevision}, modified ${item.modRevision}, version ${item.version}`,
    );
  });
  return 0;
}
