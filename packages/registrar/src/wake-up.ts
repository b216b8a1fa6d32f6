import type { Clock, ClockTimer } from "./clock.js";

/** The lease keeper's alarm: `kick()` wakes the loop's `wait()`, or makes its next one return at once. */
export class WakeUp {
  private kicked = false;
  private wake: (() => void) | undefined;

  constructor(private readonly clock: Clock) {}

  kick(): void {
    this.kicked = true;
    this.wake?.();
  }

  /** Waits for a kick, or `ms` if given: backoff sleeps wake early so a deregister is never held up. */
  wait(ms?: number): Promise<void> {
    if (this.kicked) {
      this.kicked = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      let timer: ClockTimer | undefined;
      const done = (): void => {
        if (timer !== undefined) this.clock.clearTimeout(timer);
        this.wake = undefined;
        this.kicked = false;
        resolve();
      };
      if (ms !== undefined) timer = this.clock.setTimeout(done, ms);
      this.wake = done;
    });
  }
}
