import {
  decodePauseMarker,
  encodePauseMarker,
  keyToBytes,
  type PauseMarker,
  pauseMarkerKey,
  pauseMarkerPrefix,
  printableKey,
  servicePrefix,
} from "@etcd-naming/codec";
import { ResumableWatch } from "@etcd-naming/etcd";
import { formatLeaseId } from "@etcd-naming/registrar";
import { type Etcd3, EtcdPermissionDeniedError, type IKeyValue } from "etcd3";
import { CliError } from "./cli-error.js";
import type { CommandContext } from "./context.js";
import { endpointKeyArg, serviceArg } from "./endpoint-args.js";
import { readService } from "./registry.js";

/** What etcd holds for one endpoint: its key (served) and its pause marker, either may be missing. */
interface EndpointState {
  key: string;
  kv: IKeyValue | undefined;
  marker: { kv: IKeyValue; says: PauseMarker | undefined } | undefined;
}

async function stateOf(client: Etcd3, key: string): Promise<EndpointState> {
  const [kv, marker] = await Promise.all([
    client.get(Buffer.from(keyToBytes(key))).exec(),
    client.get(Buffer.from(keyToBytes(pauseMarkerKey(key)))).exec(),
  ]);
  const markerKv = marker.kvs[0];
  return {
    key,
    kv: kv.kvs[0],
    marker: markerKv === undefined ? undefined : { kv: markerKv, says: decodePauseMarker(markerKv.value) },
  };
}

/** Paused: no key, and a marker saying so (a marker beside a live key is a previous owner's, stale). */
const isPaused = (state: EndpointState): boolean =>
  state.kv === undefined && state.marker !== undefined && state.marker.says?.state !== "resumed";

/** The endpoint `target` names: an id, a full key, or the address of an endpoint registered under another id. */
async function findEndpoint(client: Etcd3, service: string, target: string): Promise<EndpointState> {
  const state = await stateOf(client, endpointKeyArg(service, target, "endpoint"));
  if (state.kv !== undefined || state.marker !== undefined) return state;
  const { endpoints } = await readService(client, service);
  const matches = endpoints.filter((e) => e.addr === target);
  if (matches.length > 1) {
    throw new CliError(
      "NOT_FOUND",
      `address "${target}" matches ${matches.length} endpoints in ${service} (${matches.map((m) => printableKey(m.key)).join(", ")}): pass the key`,
    );
  }
  return matches[0] === undefined ? state : stateOf(client, matches[0].key);
}

/** Resolves once `key` is deleted (`present` false) or put (`true`) after `revision`, or with false at `deadlineMs`. */
async function waitForKey(
  client: Etcd3,
  key: string,
  revision: string,
  present: boolean,
  deadlineMs: number,
): Promise<boolean> {
  const bytes = Buffer.from(keyToBytes(key));
  const wanted = present ? "put" : "delete";
  let watch: ResumableWatch | undefined;
  try {
    return await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), deadlineMs);
      // A prefix watch of the key itself: longer keys that start with it are passed over.
      watch = new ResumableWatch(client, key, BigInt(revision) + 1n, {
        deletesOnly: !present,
        onEvents: (events) => {
          if (!events.some((e) => e.type === wanted && bytes.equals(e.kv.key))) return;
          clearTimeout(timer);
          resolve(true);
        },
        // Refused or compacted: the deadline says the registrar did not act.
        onError: () => undefined,
      });
    });
  } finally {
    await watch?.close();
  }
}

function denied(action: string, service: string, error: unknown): unknown {
  if (!(error instanceof EtcdPermissionDeniedError)) return error;
  return new CliError(
    "PERMISSION_DENIED",
    `etcd permission denied: ${action} needs the readwrite permission on the prefixes ${servicePrefix(service)} and ${pauseMarkerPrefix(service)}`,
    { cause: error },
  );
}

/**
 * `pause` / `resume`: asks the registrar that keeps the endpoint (through its pause marker, on the
 * endpoint's lease) to delete or put back its key, and waits for it to do so. A registrar that does not
 * act within the command timeout gets its request withdrawn, and the command fails.
 */
export async function pauseCommand(
  ctx: CommandContext,
  service: string,
  target: string,
  pause: boolean,
): Promise<number> {
  serviceArg(service);
  const client = await ctx.connect();
  const verb = pause ? "pausing" : "resuming";
  try {
    const state = await findEndpoint(client, service, target);
    return pause ? await pauseOne(ctx, client, state) : await resumeOne(ctx, client, state);
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw denied(`${verb} ${target} in ${service}`, service, error);
  }

  async function pauseOne(ctx: CommandContext, client: Etcd3, state: EndpointState): Promise<number> {
    const { key } = state;
    if (state.kv === undefined) {
      if (!isPaused(state)) throw new CliError("NOT_FOUND", `no endpoint "${target}" in ${service}`);
      report(ctx, "paused", key, state.marker!.kv.lease, true);
      return 0;
    }
    const lease = state.kv.lease;
    if (lease === "0") {
      throw new CliError(
        "ETCD",
        `${key} has no lease, so no registrar keeps it and nothing would act on a pause (remove it with "del", put it back with "add")`,
      );
    }
    const marker = Buffer.from(keyToBytes(pauseMarkerKey(key)));
    const put = await client
      .put(marker)
      .value(encodePauseMarker({ state: "paused" }))
      .lease(lease)
      .exec();
    if (await waitForKey(client, key, put.header.revision, false, ctx.settings.commandTimeoutMs)) {
      report(ctx, "paused", key, lease, false);
      return 0;
    }
    // Nobody acted: take the request back unless something wrote the marker since.
    await client
      .if(marker, "Mod", "==", Number(put.header.revision))
      .then(client.delete().key(marker))
      .commit();
    throw notActed(key, lease, "pause");
  }

  async function resumeOne(ctx: CommandContext, client: Etcd3, state: EndpointState): Promise<number> {
    const { key } = state;
    if (state.kv !== undefined) {
      report(ctx, "resumed", key, state.kv.lease, true);
      return 0;
    }
    if (!isPaused(state)) throw new CliError("NOT_FOUND", `no endpoint "${target}" in ${service}`);
    const markerKv = state.marker!.kv;
    const lease = markerKv.lease;
    if (lease === "0") {
      throw new CliError(
        "ETCD",
        `the pause marker of ${key} has no lease, so no registrar holds it (delete ${pauseMarkerKey(key)} with etcdctl)`,
      );
    }
    const marker = Buffer.from(keyToBytes(pauseMarkerKey(key)));
    const put = await client
      .put(marker)
      .value(encodePauseMarker({ state: "resumed" }))
      .lease(lease)
      .exec();
    if (await waitForKey(client, key, put.header.revision, true, ctx.settings.commandTimeoutMs)) {
      report(ctx, "resumed", key, lease, false);
      return 0;
    }
    // Nobody acted: restore the marker as it was, unless something wrote it since.
    await client
      .if(marker, "Mod", "==", Number(put.header.revision))
      .then(client.put(marker).value(markerKv.value).lease(lease))
      .commit();
    throw notActed(key, lease, "resume");
  }

  function notActed(key: string, lease: string, action: "pause" | "resume"): CliError {
    const within = `${ctx.settings.commandTimeoutMs / 1000}s`;
    return new CliError(
      "ETCD",
      `no registrar acted on the ${action} of ${key} within ${within}, so the request was withdrawn: the process ` +
        `holding lease ${formatLeaseId(lease)} may not support pausing (a Go endpoints.Manager, or an older ` +
        `@etcd-naming/registrar) or may not read ${pauseMarkerPrefix(service)}`,
    );
  }
}

function report(
  ctx: CommandContext,
  event: "paused" | "resumed",
  key: string,
  lease: string,
  already: boolean,
): void {
  const hex = lease === "0" ? undefined : formatLeaseId(lease);
  if (ctx.out.format !== "simple") {
    ctx.out.record(
      { [event]: key, ...(hex === undefined ? {} : { lease: hex }), changed: !already },
      () => {},
    );
    return;
  }
  const colour = event === "paused" ? "yellow" : "green";
  const detail = already
    ? event === "paused"
      ? "was already paused"
      : "is not paused: nothing to do"
    : event === "paused"
      ? `is out of rotation; its lease ${hex} and process stay`
      : `is served again under lease ${hex}`;
  ctx.out.line(`${ctx.out.paint(colour, event)} ${printableKey(key)} ${detail}`);
}
