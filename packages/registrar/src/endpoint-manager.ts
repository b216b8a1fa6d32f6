import {
  decodeEndpoint,
  type Endpoint,
  encodeEndpoint,
  keyFromBytes,
  Operation,
  printableKey,
  servicePrefix,
  type Update,
} from "@etcd-naming/codec";
import { PrefixLister, type PrefixListing, ResumableWatch } from "@etcd-naming/etcd";
import type { Etcd3, IKeyValue, IRequestOp } from "etcd3";
import { EtcdPermissionDeniedError } from "etcd3";
import { type RegistrarLogger, redactingLogger } from "./clock.js";
import { etcdRefusal, permissionDenied, RegistrarError, toRegistrarError } from "./errors.js";
import { chunk, commitOnce, deleteOp, putOp } from "./txn.js";
import {
  checkAddress,
  checkInput,
  checkLeaseId,
  checkMetadata,
  checkService,
  DEFAULT_MAX_TXN_OPS,
  warnObjectMetadata,
} from "./validate.js";

/** One change for {@link EndpointManager.update}: Go's `UpdateWithOpts`. */
export interface EndpointUpdate {
  /** `Operation.Add` (0) or `Operation.Delete` (1). */
  op: Operation;
  /** Full key under `<service>/`. */
  key: string;
  /** Required for `Add`. */
  endpoint?: Endpoint;
  /**
   * Lease to attach on `Add`: a decimal string from "1" to "9223372036854775807" (lease ids are 64-bit;
   * etcdctl prints them in hex). "0" means no lease, as in Go.
   */
  lease?: string;
}

/** Options of {@link createEndpointManager}. */
export interface EndpointManagerOptions {
  /** The server's `--max-txn-ops` (default 128, etcd's default). */
  maxTxnOps?: number;
  /** Receives warnings (skipped values, object metadata). Default `console.warn`. */
  logger?: RegistrarLogger;
}

/** Options of {@link EndpointManager.update}. */
export interface UpdateOptions {
  /**
   * Above `maxTxnOps` operations: `false` (default) refuses with TXN_TOO_LARGE; `true` applies them in
   * consecutive transactions of at most `maxTxnOps` each (atomic per chunk only).
   */
  split?: boolean;
}

/** Options of {@link EndpointManager.watch}. */
export interface WatchOptions {
  /** Ends the iteration (without an error) when aborted. */
  signal?: AbortSignal;
}

/** Go's `endpoints.Manager` for Node. */
export interface EndpointManager {
  readonly service: string;
  /** Applies every update in one etcd transaction, as Go does. */
  update(updates: readonly EndpointUpdate[], options?: UpdateOptions): Promise<void>;
  /** Puts one endpoint (Go's `AddEndpoint`), optionally attached to a lease. */
  addEndpoint(key: string, endpoint: Endpoint, options?: { lease?: string }): Promise<void>;
  /** Deletes one endpoint (Go's `DeleteEndpoint`). */
  deleteEndpoint(key: string): Promise<void>;
  /** Every endpoint under `<service>/`, by key; values that do not decode are skipped with a warning. */
  list(): Promise<Map<string, Endpoint>>;
  /**
   * Go's `NewWatchChannel`: first the current endpoints as one batch of `Add`s (if any), then each
   * change as it happens. A minimal watch: it resumes across reconnects without skipping events, but
   * ends with a WATCH_FAILED error if etcd cancels it (e.g. its revision was compacted). The
   * self-healing resolver watch is `@etcd-naming/watcher`.
   */
  watch(options?: WatchOptions): AsyncGenerator<Update[], void, undefined>;
}

/**
 * Creates the endpoint manager of `service` (Go's `endpoints.NewManager(client, target)`): writes Go's
 * exact values, so Go and Node servers and resolvers can share a service.
 */
export function createEndpointManager(
  client: Etcd3,
  service: string,
  options: EndpointManagerOptions = {},
): EndpointManager {
  checkService(service);
  const maxTxnOps = options.maxTxnOps ?? DEFAULT_MAX_TXN_OPS;
  if (!Number.isInteger(maxTxnOps) || maxTxnOps < 1) {
    throw new RegistrarError("INVALID_INPUT", `maxTxnOps must be a positive integer, got ${maxTxnOps}`);
  }
  const logger = redactingLogger(options.logger);
  const prefix = servicePrefix(service);

  const toOp = (update: EndpointUpdate): IRequestOp => {
    const { key } = update;
    if (typeof key !== "string" || !key.startsWith(prefix) || key.length === prefix.length) {
      throw new RegistrarError(
        "KEY_OUTSIDE_SERVICE",
        `endpoints: endpoint key should be prefixed with '${prefix}' got: '${String(key)}'`,
      );
    }
    if (update.op === Operation.Delete) return deleteOp(key);
    if (update.op !== Operation.Add) throw new RegistrarError("INVALID_INPUT", "endpoints: bad update op");
    const { endpoint, lease } = update;
    if (typeof endpoint !== "object" || endpoint === null) {
      throw new RegistrarError("INVALID_INPUT", `endpoints: an Add of ${key} needs an endpoint`);
    }
    checkAddress(endpoint.addr);
    checkMetadata(endpoint.metadata);
    const leaseId = lease === undefined ? undefined : checkLeaseId(lease, "endpoints");
    const value = checkInput("endpoint", () => encodeEndpoint(endpoint));
    warnObjectMetadata(logger, service, key, endpoint.metadata);
    return putOp(key, value, leaseId);
  };

  const update = async (updates: readonly EndpointUpdate[], updateOptions: UpdateOptions = {}) => {
    if (!Array.isArray(updates)) throw new RegistrarError("INVALID_INPUT", "updates must be an array");
    // Everything is checked before anything is written.
    const ops = updates.map(toOp);
    if (ops.length === 0) return;
    if (ops.length > maxTxnOps && updateOptions.split !== true) {
      throw new RegistrarError(
        "TXN_TOO_LARGE",
        `endpoints: ${ops.length} updates exceed etcd's limit of ${maxTxnOps} operations per transaction ` +
          "(--max-txn-ops); pass { split: true } to apply them in several transactions",
      );
    }
    for (const batch of chunk(ops, maxTxnOps)) {
      try {
        await commitOnce(client, batch);
      } catch (error) {
        if (error instanceof EtcdPermissionDeniedError) {
          const keys = updates.map((u) => printableKey(u.key)).join(", ");
          throw permissionDenied(`endpoints: writing ${keys}`, prefix, error);
        }
        // etcd answered: its reason, under a code of its own (retrying would be refused again).
        const refused = etcdRefusal(error, `endpoints: the transaction of ${batch.length} operations`);
        if (refused !== undefined) throw refused;
        throw toRegistrarError(error, "ETCD_UNAVAILABLE", "endpoints: transaction failed");
      }
    }
  };

  const decode = (kv: IKeyValue): Endpoint | undefined => {
    const result = decodeEndpoint(kv.value);
    if (!result.ok) {
      const key = printableKey(keyFromBytes(kv.key));
      const reason = result.error.message;
      logger.warn?.({ service, key, reason }, `skipping ${key}: ${reason}`);
      return undefined;
    }
    const { addr, metadata } = result.endpoint;
    return metadata === null || metadata === undefined ? { addr } : { addr, metadata };
  };

  // The listing is paged at one revision, each page through etcd3's own call (its retries).
  let lister: PrefixLister | undefined;
  const listRaw = async (): Promise<PrefixListing> => {
    try {
      lister ??= new PrefixLister(client, { viaClient: true });
      return await lister.list(prefix);
    } catch (error) {
      if (error instanceof EtcdPermissionDeniedError) {
        throw permissionDenied(`endpoints: listing ${prefix}`, prefix, error, "read");
      }
      throw toRegistrarError(error, "ETCD_UNAVAILABLE", `endpoints: listing ${prefix} failed`);
    }
  };

  return {
    service,
    update,
    addEndpoint: (key, endpoint, addOptions = {}) =>
      update([
        addOptions.lease === undefined
          ? { op: Operation.Add, key, endpoint }
          : { op: Operation.Add, key, endpoint, lease: addOptions.lease },
      ]),
    deleteEndpoint: (key) => update([{ op: Operation.Delete, key }]),
    list: async () => {
      const res = await listRaw();
      const out = new Map<string, Endpoint>();
      for (const kv of res.kvs) {
        const endpoint = decode(kv);
        if (endpoint !== undefined) out.set(keyFromBytes(kv.key), endpoint);
      }
      return out;
    },
    watch: (watchOptions = {}) => watchUpdates(client, prefix, listRaw, decode, watchOptions.signal),
  };
}

async function* watchUpdates(
  client: Etcd3,
  prefix: string,
  listRaw: () => Promise<PrefixListing>,
  decode: (kv: IKeyValue) => Endpoint | undefined,
  signal: AbortSignal | undefined,
): AsyncGenerator<Update[], void, undefined> {
  if (signal?.aborted) return;
  const listed = await listRaw();
  const initial: Update[] = [];
  for (const kv of listed.kvs) {
    const endpoint = decode(kv);
    if (endpoint !== undefined) initial.push({ op: Operation.Add, key: keyFromBytes(kv.key), endpoint });
  }

  const queue: Update[][] = [];
  let failure: unknown;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    wake?.();
    wake = undefined;
  };
  const watch = new ResumableWatch(client, prefix, BigInt(listed.revision) + 1n, {
    onEvents: (events) => {
      const batch: Update[] = [];
      for (const event of events) {
        const key = keyFromBytes(event.kv.key);
        if (event.type === "delete") {
          batch.push({ op: Operation.Delete, key });
          continue;
        }
        const endpoint = decode(event.kv);
        if (endpoint !== undefined) batch.push({ op: Operation.Add, key, endpoint });
      }
      if (batch.length > 0) {
        queue.push(batch);
        notify();
      }
    },
    onError: (error) => {
      failure = new RegistrarError("WATCH_FAILED", `endpoints: watch on ${prefix} failed: ${String(error)}`, {
        cause: error,
      });
      notify();
    },
  });
  signal?.addEventListener("abort", notify);

  try {
    if (initial.length > 0) yield initial;
    for (;;) {
      const next = queue.shift();
      if (next !== undefined) {
        yield next;
        continue;
      }
      if (failure !== undefined) throw failure;
      if (signal?.aborted) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    signal?.removeEventListener("abort", notify);
    await watch.close();
  }
}
