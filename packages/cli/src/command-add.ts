import {
  decodeEndpoint,
  type Endpoint,
  encodeEndpoint,
  isObjectMetadata,
  parseAddress,
  validateAddress,
  validateMetadata,
} from "@etcd-naming/codec";
import { usageError } from "./cli-error.js";
import type { CommandContext } from "./context.js";
import { attributesArg, checked, endpointKeyArg, metadataArg, serviceArg } from "./endpoint-args.js";
import type { Output } from "./output.js";
import { writing } from "./registry.js";

export interface EndpointOptions {
  metadata?: string;
  /** `--attr key=value`, repeated: written as the attribute string in Metadata. */
  attrs?: string[];
  key?: string;
}

/** The endpoint and key an `add`/`register` command line describes, checked before any connection. */
export function endpointFromArgs(
  service: string,
  addr: string,
  options: EndpointOptions,
): { key: string; endpoint: Endpoint } {
  serviceArg(service);
  if (addr.trim() === "") throw usageError(`invalid address ${JSON.stringify(addr)}: must not be empty`);
  checked(() => validateAddress(addr));
  const endpoint: Endpoint = { addr };
  if (options.attrs !== undefined && options.attrs.length > 0) {
    if (options.metadata !== undefined) {
      throw usageError("pass either --metadata or --attr, not both: --attr writes the metadata string");
    }
    endpoint.metadata = attributesArg(options.attrs);
  } else if (options.metadata !== undefined) {
    const metadata = metadataArg(options.metadata);
    checked(() => validateMetadata(metadata));
    endpoint.metadata = metadata;
  }
  const key = endpointKeyArg(service, options.key ?? addr, options.key === undefined ? "address" : "--id");
  return { key, endpoint };
}

/** Object metadata is valid, but etcd's Go resolver in 3.4.x, 3.5.0–3.5.26 and 3.6.0–3.6.7 panics on it (etcd-io/etcd#19700). */
export function warnObjectMetadata(out: Output, endpoint: Endpoint): void {
  if (endpoint.metadata !== undefined && isObjectMetadata(endpoint.metadata)) {
    out.warn(
      "object metadata makes etcd's Go resolver 3.4.x, 3.5.0-3.5.26 and 3.6.0-3.6.7 panic (etcd-io/etcd#19700); " +
        `if Go clients resolve this service, use attributes (--attr zone=a, written as the string "zone=a") or a separate key`,
    );
  }
}

/**
 * An address the `etcd:` resolver cannot dial (a port out of range, a URL) is still written (other readers
 * of the registry may take any string, as Go's endpoints manager does) but never silently.
 */
export function warnUndialable(out: Output, service: string, addr: string): void {
  if (parseAddress(addr) !== null) return;
  out.warn(
    `gRPC clients cannot dial ${JSON.stringify(addr)} (expected host:port with a port from 1 to 65535, ` +
      `[IPv6]:port or unix:/path): the etcd:///${service} resolver will skip it`,
  );
}

/** `add`: a permanent endpoint (no lease), in Go's exact bytes. */
export async function addCommand(
  ctx: CommandContext,
  service: string,
  addr: string,
  options: EndpointOptions,
): Promise<number> {
  const { key, endpoint } = endpointFromArgs(service, addr, options);
  warnUndialable(ctx.out, service, addr);
  warnObjectMetadata(ctx.out, endpoint);
  const client = await ctx.connect();
  const value = encodeEndpoint(endpoint);
  const response = await writing(service, key, () =>
    client.kv.put({
      key: Buffer.from(key),
      value: Buffer.from(value),
      prev_kv: true,
    }),
  );
  const revision = Number(response.header.revision);
  // Report what etcd now holds (Go sorts object keys), not how it was typed.
  const decoded = decodeEndpoint(value);
  const metadata = decoded.ok ? decoded.endpoint.metadata : (endpoint.metadata ?? null);
  ctx.out.record({ key, addr, metadata, modRevision: revision }, () => {
    const verb = response.prev_kv ? "updated" : "added";
    const meta = metadata === null ? "" : ` ${JSON.stringify(metadata)}`;
    ctx.out.line(`${ctx.out.paint("green", verb)} ${key} ${addr}${meta} (revision ${revision})`);
  });
  return 0;
}
