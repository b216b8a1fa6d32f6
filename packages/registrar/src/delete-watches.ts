import { keyFromBytes, servicePrefix } from "@etcd-naming/codec";
import { listedKeys, ServiceWatches, type ServiceWatchOwner } from "./service-watches.js";

/** What the delete watches need from the lease keeper. */
export interface DeleteWatchOwner extends ServiceWatchOwner {
  /** Wakes the write loop: an entry became dirty. */
  kick(): void;
}

/**
 * One delete-only watch per service prefix, so the registration stays the source of truth: a key
 * deleted after our last write, by anyone but us, is put back (unless the entry is paused). After a
 * watch had to be re-created, a re-list marks whatever vanished meanwhile.
 */
export class DeleteWatches extends ServiceWatches {
  constructor(owner: DeleteWatchOwner) {
    /**
     * Deletes at or before our last write are history (e.g. the old lease expiring during an outage
     * before the re-put), not news.
     */
    const deleted = (key: string, revision: bigint): void => {
      const entry = owner.entry(key);
      // A paused entry's key is meant to be absent (deleted by our own pause write).
      if (entry === undefined || entry.dirty || entry.paused || entry.putRevision === undefined) return;
      if (revision <= entry.putRevision) return;
      entry.dirty = true;
      owner.kick();
    };
    super(owner, {
      name: "delete",
      prefix: servicePrefix,
      deletesOnly: true,
      events: (events) => {
        for (const event of events) deleted(keyFromBytes(event.kv.key), event.revision);
      },
      relisted: (service, listing) => {
        // Re-put whatever vanished while nothing watched.
        const present = listedKeys(listing);
        for (const entry of owner.entriesOf(service)) {
          if (entry.registered && !entry.paused && !present.has(entry.key)) entry.dirty = true;
        }
        owner.kick();
      },
    });
  }
}
