/** Resolves with the abort reason (e.g. "SIGTERM") once `signal` aborts. */
export function whenAborted(signal: AbortSignal): Promise<string> {
  const reason = (): string => (typeof signal.reason === "string" ? signal.reason : "interrupt");
  if (signal.aborted) return Promise.resolve(reason());
  return new Promise((resolve) => signal.addEventListener("abort", () => resolve(reason()), { once: true }));
}

/** Waits for `promise` at most `ms`; resolves to false when time ran out. */
export async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Keeps the process alive until the returned function is called. The watcher's and the registrar's timers
 * are unref'd (a library never holds a process open), so while etcd is away and no stream is open nothing
 * else would: Node would end a waiting `watch` with exit code 13 (an unsettled top-level await) instead of
 * letting it resume when etcd is back.
 */
export function holdProcessOpen(): () => void {
  // Well below the 2^31-1 ms at which Node clamps a delay to 1 ms.
  const timer = setInterval(() => {}, 1 << 30);
  return () => clearInterval(timer);
}
