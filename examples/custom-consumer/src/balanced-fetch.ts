// A framework author's adapter on the watcher core: `fetch` over whatever HTTP servers are registered in
// etcd under a service, round robin. Nothing here knows about gRPC; the watcher hands over addresses.
import type { ServiceWatcher } from "@etcd-naming/watcher";

export interface BalancedFetch {
  /** `fetch(path)` against the next endpoint; on a connection error, the next one is tried. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** The addresses currently in rotation. */
  endpoints(): readonly string[];
}

export class NoEndpointsError extends Error {
  override readonly name = "NoEndpointsError";
}

export function balancedFetch(watcher: ServiceWatcher): BalancedFetch {
  let addrs: string[] = [];
  let next = 0;
  // The first update carries the full set; later ones too (`endpoints`), so no bookkeeping of diffs.
  watcher.on("update", ({ endpoints }) => {
    addrs = endpoints.map((e) => e.addr);
  });
  // etcd unreachable: keep balancing over the last known set; the watcher resumes on its own.
  watcher.on("stale", (error) =>
    console.warn(`etcd unreachable, using the last known endpoints: ${error.message}`),
  );

  return {
    endpoints: () => addrs,
    async fetch(path, init) {
      if (addrs.length === 0) {
        // Before the first listing "no endpoints" means "not known yet": wait for it.
        const snapshot = await watcher.ready();
        addrs = snapshot.endpoints.map((e) => e.addr);
      }
      const candidates = addrs.length;
      if (candidates === 0)
        throw new NoEndpointsError(`no endpoints registered for ${watcher.snapshot().service}`);
      let lastError: unknown;
      for (let attempt = 0; attempt < candidates; attempt++) {
        const addr = addrs[next++ % addrs.length]!;
        try {
          return await fetch(`http://${addr}${path}`, init);
        } catch (error) {
          lastError = error; // refused or reset: the server is gone but its lease has not expired yet
        }
      }
      throw lastError;
    },
  };
}
