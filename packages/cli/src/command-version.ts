import type { CommandContext } from "./context.js";

/** `version` as `-w json` prints it: `server` is null when etcd could not be reached. */
export interface VersionInfo {
  cli: string;
  server: string | null;
}

/** `version`: this CLI's version, and etcd's (from a Status call) when it answers within the dial timeout. */
export async function versionCommand(ctx: CommandContext, cli: string): Promise<number> {
  let server: string | null = null;
  try {
    const client = await ctx.connect();
    server = (await client.maintenance.status()).version;
  } catch (error) {
    ctx.out.warn(`etcd version unknown: ${error instanceof Error ? error.message : String(error)}`);
  }
  const info: VersionInfo = { cli, server };
  ctx.out.record(info, () => {
    ctx.out.line(`etcd-naming version: ${cli}`);
    ctx.out.line(`etcd version: ${server ?? "unknown (unreachable)"}`);
  });
  return 0;
}
