import {
  decodePauseMarker,
  endpointKeyOfMarker,
  keyFromBytes,
  pauseMarkerPrefix,
  printableKey,
} from "@etcd-naming/codec";
import { EtcdPermissionDeniedError } from "etcd3";
import type { KeeperEntry } from "./keeper-entry.js";
import { ServiceWatches, type ServiceWatchOwner } from "./service-watches.js";

/** What the pause watches need from the lease keeper. */
export interface PauseWatchOwner extends ServiceWatchOwner {
  /** Another process asks for `entry` to be paused (`true`) or served again (`false`). */
  requested(entry: KeeperEntry, paused: boolean): void;
}

/** Whether etcd refused a watch or a range for lack of a permission. */
function isDenied(error: unknown): boolean {
  return error instanceof EtcdPermissionDeniedError || /permission denied/i.test(String(error));
}

/**
 * One watch per service on its pause markers (`/etcd-naming/paused/<service>/`), so that another process
 * (`etcd-naming pause`/`resume`) can pause and resume the registrations of this one: a marker put after our
 * last pause-state write of an entry is a request. Marker deletions are ignored: they are our own
 * resume, or the marker going with its lease, which the lease keeper handles as a lost lease. A role that
 * may not read the markers gets no watch (a registration needs only `readwrite` on its service prefix);
 * pausing from another process then does not reach it.
 */
export class PauseWatches extends ServiceWatches {
  constructor(owner: PauseWatchOwner) {
    /** A marker put at `revision`: a request when it is newer than our own last pause-state write. */
    const marker = (markerKey: string, value: Uint8Array, revision: bigint): void => {
      const key = endpointKeyOfMarker(markerKey);
      const entry = key === undefined ? undefined : owner.entry(key);
      if (entry === undefined || entry.stateRevision === undefined || revision <= entry.stateRevision) return;
      const read = decodePauseMarker(value);
      if (read === undefined) {
        const shown = printableKey(markerKey);
        owner.logger.warn?.(
          { service: entry.service, key: shown },
          `ignoring the unreadable pause marker ${shown} (expected {"state":"paused"} or {"state":"resumed"})`,
        );
        return;
      }
      if (entry.writing) entry.hold(revision, read.state === "paused");
      else owner.requested(entry, read.state === "paused");
    };
    super(owner, {
      name: "pause",
      prefix: pauseMarkerPrefix,
      deletesOnly: false,
      events: (events) => {
        for (const event of events) {
          if (event.type === "put") marker(keyFromBytes(event.kv.key), event.kv.value, event.revision);
        }
      },
      // Apply the markers written while nothing watched.
      relisted: (_service, listing) => {
        for (const kv of listing.kvs) marker(keyFromBytes(kv.key), kv.value, BigInt(kv.mod_revision));
      },
      // A role that may not read the markers is not asked again.
      stops: isDenied,
    });
  }
}
