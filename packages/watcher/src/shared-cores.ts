import { type CoreSettings, ServiceCore } from "./service-core.js";
import type { NamingSource } from "./source.js";

/**
 * The sharing registry: one {@link ServiceCore} per source, service and settings in this process, so the
 * watchers of one service hold one source watch between them. A core leaves the registry when its last
 * view closes.
 */
const cores = new WeakMap<NamingSource, Map<string, ServiceCore>>();
const objectIds = new WeakMap<object, number>();
let nextObjectId = 0;

/** A number that stands for `object` (a clock, a metrics sink) in a share key; 0 for none. */
function objectId(object: object | undefined): number {
  if (object === undefined) return 0;
  let id = objectIds.get(object);
  if (id === undefined) {
    id = ++nextObjectId;
    objectIds.set(object, id);
  }
  return id;
}

/**
 * The core `service` on `source` with `settings`: the shared one when `shared` and one is open, else a new
 * one (`fresh`, not yet started: the caller attaches its view first).
 */
export function coreFor(
  source: NamingSource,
  service: string,
  settings: CoreSettings,
  shared: boolean,
): { core: ServiceCore; fresh: boolean } {
  const shareKey = JSON.stringify([
    service,
    settings.linearizable,
    settings.backoff,
    settings.cancelTimeoutMs,
    settings.decode ?? null,
    objectId(settings.clock),
    objectId(settings.metrics),
  ]);
  let byService = cores.get(source);
  if (!byService) {
    byService = new Map();
    cores.set(source, byService);
  }
  const existing = shared ? byService.get(shareKey) : undefined;
  if (existing !== undefined) return { core: existing, fresh: false };
  const registry = byService;
  const created: ServiceCore = new ServiceCore(source, service, settings, () => {
    if (registry.get(shareKey) === created) registry.delete(shareKey);
  });
  if (shared) registry.set(shareKey, created);
  return { core: created, fresh: true };
}
