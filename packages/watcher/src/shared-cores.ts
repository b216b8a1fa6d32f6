import type { Clock } from "./clock.js";
import { type CoreSettings, ServiceCore } from "./service-core.js";
import type { NamingSource } from "./source.js";

/**
 * The sharing registry: one {@link ServiceCore} per source, service and settings in this process, so the
 * watchers of one service hold one source watch between them. A core leaves the registry when its last
 * view closes.
 */
const cores = new WeakMap<NamingSource, Map<string, ServiceCore>>();
const clockIds = new WeakMap<Clock, number>();
let nextClockId = 0;

function clockId(clock: Clock): number {
  let id = clockIds.get(clock);
  if (id === undefined) {
    id = ++nextClockId;
    clockIds.set(clock, id);
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
    clockId(settings.clock),
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
