import { encodeEndpoint } from "@etcd-naming/codec";
import { createRandom, sleep } from "./chaos-env.js";
import type { Writer } from "./cluster-tools.js";

/** Options of {@link startChurn}. */
export interface ChurnOptions {
  /** The seed of the run's random choices. */
  seed: number;
  /** The first three octets of the addresses written (`10.1.0`). */
  subnet: string;
  /** The pause between two writes, drawn from [min, max] ms. */
  pauseMs: readonly [number, number];
}

/**
 * Puts (60 %) and deletes on ten keys of `service` through `writer` until `stop()`, which resolves once
 * the write under way has ended.
 */
export function startChurn(
  writer: Writer,
  service: string,
  options: ChurnOptions,
): { stop(): Promise<void> } {
  const random = createRandom(options.seed);
  let churning = true;
  const churn = (async () => {
    for (let i = 0; churning; i++) {
      const key = `${service}/k${random.int(0, 9)}`;
      if (random.next() < 0.6)
        await writer.put(key, encodeEndpoint({ addr: `${options.subnet}.${i % 250}:80` }));
      else await writer.delete(key);
      await sleep(random.int(options.pauseMs[0], options.pauseMs[1]));
    }
  })();
  return {
    stop() {
      churning = false;
      return churn;
    },
  };
}
