/**
 * The offset from this process's `process.hrtime.bigint()` to the wall clock (Unix nanoseconds), so its
 * times compare with Go's `time.Now().UnixNano()` in the other processes. `performance.timeOrigin` is no
 * good for this: it is read at a different moment of start-up than the monotonic origin, and was found
 * off by 0.05 to 3.3 ms on a loaded machine. Instead, the wall clock is caught crossing a millisecond:
 * spinning on `Date.now()` (the wall clock, whole milliseconds) between two monotonic readings, the tick
 * from k to k + 1 happened between them; a tick seen within 5 µs gives the offset to a few µs. The median
 * of 9 ticks (about 9 ms of spinning) discards one that a preemption made wide.
 */
export function wallClockOffset(): bigint {
  const offsets: bigint[] = [];
  const deadline = Date.now() + 1_000;
  while (offsets.length < 9) {
    if (Date.now() > deadline) throw new Error("could not relate the monotonic clock to the wall clock");
    let previousBefore = process.hrtime.bigint();
    let previousMs = Date.now();
    for (;;) {
      const before = process.hrtime.bigint();
      const ms = Date.now();
      const after = process.hrtime.bigint();
      if (ms !== previousMs) {
        // The previous read began at previousBefore, this one ended at `after`: the tick is in between.
        if (ms === previousMs + 1 && after - previousBefore < 5_000n) {
          offsets.push(BigInt(ms) * 1_000_000n - (previousBefore + after) / 2n);
        }
        break;
      }
      previousMs = ms;
      previousBefore = before;
    }
  }
  offsets.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return offsets[4]!;
}
