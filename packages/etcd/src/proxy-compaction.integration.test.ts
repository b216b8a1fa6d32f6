import { startEtcd, startGrpcProxy } from "@etcd-naming/etcd-fixture";
import { Etcd3, type IWatchResponse } from "etcd3";
import { describe, expect, it } from "vitest";
import { systemClock, type TimerClock } from "./clock.js";
import { ResumableWatch, WatchCompactedError } from "./resumable-watch.js";

const poll = { timeout: 20_000, interval: 20 };
/** The retry delay the test holds back until it lets the watch resume. */
const HELD_MS = 987_654;

describe("a watch through etcd's gRPC proxy", () => {
  it("resumed from a compacted revision ends as compacted, not on the proxy's watch that etcd already ended", {
    timeout: 60_000,
  }, async () => {
    await using etcd = await startEtcd();
    await using proxy = await startGrpcProxy({ endpoints: etcd.endpoints });
    const writer = new Etcd3({ hosts: etcd.endpoints });
    const viaProxy = new Etcd3({ hosts: proxy.endpoints });
    const other = new Etcd3({ hosts: proxy.endpoints });
    // The watch's retries wait here until released, so the test decides when it resumes.
    const held: (() => void)[] = [];
    const clock: TimerClock = {
      now: () => systemClock.now(),
      setTimeout: (callback, ms) =>
        ms === HELD_MS ? held.push(callback) : systemClock.setTimeout(callback, ms),
      clearTimeout: (handle) => {
        if (typeof handle !== "number") systemClock.clearTimeout(handle);
      },
    };
    try {
      const from = BigInt((await writer.put("svc/a").value("1").exec()).header.revision);
      const seen: string[] = [];
      const errors: unknown[] = [];
      const watch = new ResumableWatch(viaProxy, "svc/", from, {
        clock,
        retryDelayMs: () => HELD_MS,
        onEvents: (events) => seen.push(...events.map((e) => e.kv.key.toString())),
        onError: (error) => errors.push(error),
      });
      try {
        await expect.poll(() => seen, poll).toEqual(["svc/a"]);
        // The proxy goes down; the watch's stream breaks and its resumption waits.
        await proxy.kill();
        await expect.poll(() => held.length, poll).toBe(1);
        await writer.put("svc/b").value("2");
        const last = BigInt((await writer.put("svc/c").value("3").exec()).header.revision);
        await writer.kv.compact({ revision: String(last), physical: true });
        await proxy.start();

        // Another client watches from the compacted revision and keeps its stream: etcd ends the proxy's
        // watch, and the proxy keeps that watch, with this client on it, for later watches of the prefix.
        const stream = await other.watchClient.watch();
        const responses: IWatchResponse[] = [];
        stream.on("data", (response: IWatchResponse) => responses.push(response));
        stream.on("error", () => {});
        stream.write({
          create_request: {
            key: Buffer.from("svc/"),
            range_end: Buffer.from("svc0"),
            start_revision: String(from + 1n),
          },
        });
        await expect.poll(() => responses.some((r) => String(r.compact_revision) !== "0"), poll).toBe(true);

        // The watch resumes from the compacted revision: put on the proxy's ended watch it would hear
        // nothing, the compaction included, and keep resuming there.
        held.shift()!();
        await expect.poll(() => errors.length, poll).toBe(1);
        expect(errors[0]).toBeInstanceOf(WatchCompactedError);
        expect(watch.streamsOpened).toBe(2);
        stream.end();
      } finally {
        await watch.close();
      }
    } finally {
      writer.close();
      viaProxy.close();
      other.close();
    }
  });
});
