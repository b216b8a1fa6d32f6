import { printableKey, startsWithScheme } from "@etcd-naming/codec";
import type { CommandContext } from "./context.js";
import { serviceArg } from "./endpoint-args.js";
import { readService } from "./registry.js";
import { formatTable } from "./table.js";

/** One service under a root, as `services --json` prints it. */
export interface ListedService {
  service: string;
  /** Keys whose value is a usable endpoint. */
  endpoints: number;
  /** Keys whose value is not (malformed), counted apart. */
  skipped: number;
}

/**
 * The service a key under `root/` belongs to: the key without its id. The id is the last segment, or
 * from the first segment that starts with a scheme (`unix:///tmp/s`, as `add` takes an address as an id),
 * so `team/greeter/10.0.0.1:80` is in `team/greeter` and `team/unix:///tmp/s` in `team`.
 */
export function serviceOfKey(root: string, key: string): string {
  const segments = key.slice(root.length + 1).split("/");
  let id = segments.length - 1;
  const scheme = segments.findIndex(startsWithScheme);
  if (scheme !== -1 && scheme < id) id = scheme;
  return [root, ...segments.slice(0, id)].join("/");
}

/** `services <root>`: the services under a root (itself included) with their endpoint counts. */
export async function servicesCommand(ctx: CommandContext, root: string): Promise<number> {
  serviceArg(root);
  const client = await ctx.connect();
  const snapshot = await readService(client, root);
  const counts = new Map<string, ListedService>();
  const count = (key: string): ListedService => {
    const service = serviceOfKey(root, key);
    let entry = counts.get(service);
    if (entry === undefined) {
      entry = { service, endpoints: 0, skipped: 0 };
      counts.set(service, entry);
    }
    return entry;
  };
  for (const endpoint of snapshot.endpoints) count(endpoint.key).endpoints++;
  for (const value of snapshot.skipped) count(value.key).skipped++;
  const services = [...counts.values()].sort((a, b) =>
    a.service < b.service ? -1 : a.service > b.service ? 1 : 0,
  );

  const { out } = ctx;
  if (out.format !== "simple") {
    out.records(services, () => {});
    return 0;
  }
  if (services.length === 0) {
    out.line(`no services under ${root}`);
    return 0;
  }
  const withSkipped = services.some((s) => s.skipped > 0);
  const rows = services.map((s) => [
    printableKey(s.service),
    String(s.endpoints),
    ...(withSkipped ? [String(s.skipped)] : []),
  ]);
  const head = ["SERVICE", "ENDPOINTS", ...(withSkipped ? ["MALFORMED"] : [])];
  for (const line of formatTable(head, rows, (t) => out.paint("bold", t))) out.line(line);
  return 0;
}
