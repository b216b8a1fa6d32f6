// Time comes from the etcd layer: one clock, one manual clock, for every package.
export type { Clock, ManualClock, ManualClockOptions, TimerHandle } from "@etcd-naming/etcd";
export { createManualClock, MAX_TIMER_MS, systemClock } from "@etcd-naming/etcd";
