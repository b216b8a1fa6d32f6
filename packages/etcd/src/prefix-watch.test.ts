import { describe, expect, it } from "vitest";
import type { Member } from "./etcd3-pool.js";
import { createManualClock, type ManualClock } from "./manual-clock.js";
import type { MemberRouter } from "./member-router.js";
import { openPrefixWatch, type PrefixWatchContext } from "./prefix-watch.js";

const INTERVAL = 2_000;
const TIMEOUT = 3_000;

type Listener = (value: unknown) => void;

/** A watch stream that records what the watch writes and lets the test answer. */
class FakeStream {
  readonly written: object[] = [];
  readonly listeners = new Map<string, Listener[]>();
  cancelled = false;
  write(message: object): boolean {
    this.written.push(message);
    return true;
  }
  cancel(): void {
    this.cancelled = true;
  }
  on(event: string, listener: Listener): this {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener]);
    return this;
  }
  emit(event: string, value: unknown): void {
    for (const listener of this.listeners.get(event) ?? []) listener(value);
  }
  get progressRequests(): number {
    return this.written.filter((m) => "progress_request" in m).length;
  }
  answer(response: object): void {
    this.emit("data", { header: { revision: "10" }, events: [], ...response });
  }
}

function setup(clock: ManualClock) {
  const member: Member = { host: "127.0.0.1:2379" };
  const streams: FakeStream[] = [];
  const silent: string[] = [];
  const router = {
    openStream: (_service: string, _method: string, options: { onMember?: (m: Member) => void }) => {
      const stream = new FakeStream();
      streams.push(stream);
      options.onMember?.(member);
      return Promise.resolve({ stream, member });
    },
    noteSilent: (m: Member | undefined) => silent.push(m?.host ?? "?"),
    reportFailure: () => undefined,
    readRevision: () => Promise.resolve(undefined),
    invalidateAuthToken: () => undefined,
  } as unknown as MemberRouter;
  const context: PrefixWatchContext = {
    router,
    namespace: Buffer.alloc(0),
    clock,
    requireLeader: true,
    progressIntervalMs: INTERVAL,
    progressTimeoutMs: TIMEOUT,
    open: new Set(),
    counters: { watchesOpened: 0, progressReports: 0 },
  };
  return { context, streams, silent };
}

/** Lets the promise callbacks that open the streams run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

async function openWatches(context: PrefixWatchContext, streams: FakeStream[], count: number) {
  const errors: Error[][] = [];
  const cancels: Array<() => Promise<void>> = [];
  for (let i = 0; i < count; i++) {
    const mine: Error[] = [];
    errors.push(mine);
    cancels.push(
      openPrefixWatch(context, Buffer.from(`svc-${i}/`), "11", {
        onConnected: () => undefined,
        onEvents: () => undefined,
        onCompacted: () => undefined,
        onError: (error) => mine.push(error),
      }),
    );
  }
  await settle();
  expect(streams).toHaveLength(count);
  for (const stream of streams) stream.answer({ created: true });
  return { errors, cancels };
}

describe("openPrefixWatch: the liveness check of many watches on one member", () => {
  it("at rest asks the member once per interval, not once per watch", async () => {
    const clock = createManualClock();
    const { context, streams } = setup(clock);
    const { errors, cancels } = await openWatches(context, streams, 50);
    const asked = () => streams.reduce((n, s) => n + s.progressRequests, 0);
    for (let round = 1; round <= 5; round++) {
      const before = streams.map((s) => s.progressRequests);
      clock.advance(INTERVAL);
      expect(asked()).toBe(round);
      // The member answers the one question on the stream it came on.
      const asker = streams.find((s, i) => s.progressRequests > before[i]!)!;
      clock.advance(5);
      asker.answer({});
    }
    expect(errors.flat()).toEqual([]);
    for (const cancel of cancels) await cancel();
  });

  it("a question left unanswered fails every watch on the member that heard nothing since", async () => {
    const clock = createManualClock();
    const { context, streams, silent } = setup(clock);
    const { errors } = await openWatches(context, streams, 20);
    clock.advance(INTERVAL);
    expect(streams.reduce((n, s) => n + s.progressRequests, 0)).toBe(1);
    clock.advance(TIMEOUT);
    // Every watch failed as silent, within the interval and the timeout, as each did on its own before.
    expect(errors.map((e) => e.map((error) => error.name))).toEqual(streams.map(() => ["PrefixWatchError"]));
    expect(errors[0]![0]!.message).toMatch(/did not answer a progress request within 3000 ms/);
    expect(streams.every((s) => s.cancelled)).toBe(true);
    expect(silent).toHaveLength(20);
    expect(context.open.size).toBe(0);
  });

  it("an answer on another watch keeps the others open when the asking one is not answered", async () => {
    const clock = createManualClock();
    const { context, streams } = setup(clock);
    const { errors } = await openWatches(context, streams, 3);
    clock.advance(INTERVAL);
    const asker = streams.findIndex((s) => s.progressRequests === 1);
    expect(asker).not.toBe(-1);
    // Another watch gets an event: the member is alive; only the asker's own stream stays unanswered.
    const other = streams[(asker + 1) % 3]!;
    clock.advance(1_000);
    other.emit("data", {
      header: { revision: "12" },
      events: [{ type: "Put", kv: { key: Buffer.from("svc/x"), value: Buffer.from("{}") } }],
    });
    clock.advance(TIMEOUT - 1_000);
    expect(errors.map((e) => e.length)).toEqual([0, 1, 2].map((i) => (i === asker ? 1 : 0)));
  });

  it("a create left unanswered fails its own watch only, and a watch still being created waits for its own answer", async () => {
    const clock = createManualClock();
    const { context, streams } = setup(clock);
    const errors: Error[][] = [[], [], []];
    const open = async (i: number) => {
      openPrefixWatch(context, Buffer.from(`svc-${i}/`), "11", {
        onConnected: () => undefined,
        onEvents: () => undefined,
        onCompacted: () => undefined,
        onError: (error) => errors[i]!.push(error),
      });
      await settle();
    };
    await open(0);
    await open(1);
    // Watch 0 is created; watch 1 never is: only watch 1 fails (watch 0 asks for progress at 2 s).
    streams[0]!.answer({ created: true });
    clock.advance(TIMEOUT);
    expect(errors.map((e) => e.map((error) => error.message))).toEqual([
      [],
      ["etcd member 127.0.0.1:2379 did not answer a watch create request within 3000 ms"],
      [],
    ]);
    expect(streams[0]!.progressRequests).toBe(1);
    clock.advance(1_500);
    await open(2);
    // Watch 0's question goes unanswered: it fails; watch 2, whose create was sent later, waits for its
    // own answer, which comes.
    clock.advance(500);
    expect(errors.map((e) => e.length)).toEqual([1, 1, 0]);
    streams[2]!.answer({ created: true });
    clock.advance(TIMEOUT);
    expect(errors.map((e) => e.length)).toEqual([1, 1, 0]);
  });

  it("a single watch asks after each quiet interval, as it always did", async () => {
    const clock = createManualClock();
    const { context, streams } = setup(clock);
    const { errors, cancels } = await openWatches(context, streams, 1);
    for (let round = 1; round <= 3; round++) {
      clock.advance(INTERVAL);
      expect(streams[0]!.progressRequests).toBe(round);
      streams[0]!.answer({});
    }
    clock.advance(INTERVAL + TIMEOUT);
    expect(errors[0]!.map((e) => e.message)).toEqual([
      "etcd member 127.0.0.1:2379 did not answer a progress request within 3000 ms",
    ]);
    await cancels[0]!();
  });
});
