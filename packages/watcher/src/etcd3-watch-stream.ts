import { keyFromBytes, keyToBytes } from "@etcd-naming/codec";
import {
  openPrefixWatch,
  type PrefixWatchContext,
  PrefixWatchError,
  type PrefixWatchOptions,
  type RawKeyValue,
} from "@etcd-naming/etcd";
import { WatcherError } from "./errors.js";
import type { CancelWatch, SourceEvent, SourceKeyValue, WatchHandlers } from "./source.js";

export type { RawKeyValue } from "@etcd-naming/etcd";

/** What the watch streams of one {@link Etcd3Source} share: the etcd layer's watch context. */
export type WatchStreamContext = PrefixWatchContext;

/** Keys are bytes: two keys that differ only in bytes that are not UTF-8 must stay two keys. */
export function toKeyValue(raw: RawKeyValue, namespace: Buffer): SourceKeyValue {
  const out: SourceKeyValue = {
    key: keyFromBytes(namespace.length === 0 ? raw.key : raw.key.subarray(namespace.length)),
    value: raw.value,
    modRevision: String(raw.mod_revision),
    createRevision: String(raw.create_revision),
  };
  if (raw.lease !== undefined && String(raw.lease) !== "0") out.lease = String(raw.lease);
  return out;
}

export function denied(prefix: string, cause: Error): WatcherError {
  return new WatcherError(
    "PERMISSION_DENIED",
    `etcd permission denied: reading ${prefix} needs the read permission on the prefix ${prefix}`,
    { cause },
  );
}

/** The empty namespace: the etcd layer's watch reports keys without the client's namespace already. */
const NO_NAMESPACE = Buffer.alloc(0);

/**
 * One watch of a service's prefix: the etcd layer's own watch stream (`openPrefixWatch`: best ranked
 * member, `hasleader`, silent members failed over, progress checked even ahead of a quiet store), its
 * events and errors in the watcher's terms.
 */
export function watchStream(
  context: WatchStreamContext,
  prefix: string,
  fromRevision: string,
  handlers: WatchHandlers,
  options: PrefixWatchOptions = {},
): CancelWatch {
  return openPrefixWatch(
    context,
    keyToBytes(prefix),
    fromRevision,
    {
      onConnected: () => handlers.onConnected(),
      onEvents: (events) =>
        handlers.onEvents(
          events.map(
            (event): SourceEvent =>
              event.type === "delete"
                ? {
                    type: "delete",
                    key: keyFromBytes(event.kv.key),
                    modRevision: String(event.kv.mod_revision),
                  }
                : { type: "put", ...toKeyValue(event.kv, NO_NAMESPACE) },
          ),
        ),
      onCompacted: (compactRevision) => handlers.onCompacted(compactRevision),
      onError: (error) => {
        if (!(error instanceof PrefixWatchError)) return handlers.onError(error);
        if (error.failure === "denied") return handlers.onError(denied(prefix, error));
        // A silent member is the watcher's own verdict; an etcd cancel is passed on as etcd said it.
        return handlers.onError(
          error.failure === "silent"
            ? new WatcherError("WATCH_FAILED", error.message, { cause: error })
            : error,
        );
      },
    },
    options,
  );
}
