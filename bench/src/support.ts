import type { WatcherLogger } from "@etcd-naming/watcher";

/** Milliseconds between two `process.hrtime.bigint()` readings. */
export function elapsedMs(from: bigint, to: bigint): number {
  return Number(to - from) / 1e6;
}

export const now = (): bigint => process.hrtime.bigint();

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rejects with a message naming what was awaited when `promise` does not settle within `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `condition` every `everyMs` until it holds, or throws after `ms`. */
export async function until(condition: () => boolean, ms: number, what: string, everyMs = 5): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

const gc = (globalThis as { gc?: () => void }).gc;

/** Whether heap figures can be trusted: they need node's `--expose-gc`. */
export const canCollect: boolean = typeof gc === "function";

/** Heap in use after full collections (several: finalizers free more on the next pass). */
export async function settledHeap(): Promise<number> {
  if (gc === undefined) return process.memoryUsage().heapUsed;
  for (let pass = 0; pass < 3; pass++) {
    gc();
    await sleep(10);
  }
  return process.memoryUsage().heapUsed;
}

/** Warnings go to stderr with a prefix, debug chatter nowhere: the report is on stdout. */
export const quietLogger: WatcherLogger = {
  warn: (_fields, message) => console.error(`[bench] warn: ${message}`),
  error: (_fields, message) => console.error(`[bench] error: ${message}`),
};

/** A Go-compatible endpoint address unique to sample `i`, so each put changes what every path sees. */
export function sampleAddr(i: number, port = 8080): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:${port}`;
}
