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
