// A grpc-js client calling the test greeter in a loop, counting which backend answered and which calls
// failed, so a chaos suite can say whether any RPC was lost while it broke the cluster.
import type { GreeterClient } from "@etcd-naming/etcd-fixture/greeter";
import type { ServiceError } from "@grpc/grpc-js";

/** What a call loop saw. */
export interface CallStats {
  ok: number;
  failed: number;
  byServer: Record<string, number>;
  failures: CallFailure[];
}

/** One failed call. */
export interface CallFailure {
  at: number;
  code: number | undefined;
  details: string;
}

/**
 * Calls in a loop (one call every `intervalMs`, each with a 2 s deadline) until stopped; `onFailure`
 * hears of each failed call as it happens.
 */
export function callLoop(
  client: GreeterClient,
  intervalMs = 20,
  onFailure?: (failure: CallFailure) => void,
): { stats: CallStats; stop(): Promise<CallStats> } {
  const stats: CallStats = { ok: 0, failed: 0, byServer: {}, failures: [] };
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const id = await client.whoAmI({ deadlineMs: 2_000 });
        stats.ok++;
        stats.byServer[id] = (stats.byServer[id] ?? 0) + 1;
      } catch (error) {
        const e = error as ServiceError;
        stats.failed++;
        const failure = { at: Date.now(), code: e.code, details: e.details ?? String(error) };
        stats.failures.push(failure);
        onFailure?.(failure);
      }
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return {
    stats,
    stop: async () => {
      running = false;
      await loop;
      return stats;
    },
  };
}
