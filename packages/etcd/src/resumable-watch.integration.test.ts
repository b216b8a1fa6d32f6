import { startEtcd } from "@etcd-naming/etcd-fixture";
import { Etcd3 } from "etcd3";
import { describe, expect, it } from "vitest";
import {
  liveResumableWatches,
  ResumableWatch,
  WatchCompactedError,
  type WatchEvent,
} from "./resumable-watch.js";

const poll = { timeout: 20_000, interval: 20 };
const fast = (attempt: number) => Math.min(200, 50 * 2 ** attempt);
const described = (events: readonly WatchEvent[]) =>
  events.map((e) => `${e.type} ${e.kv.key.toString()}@${e.revision}`);

describe("ResumableWatch on its own streams", () => {
  it("resumes after etcd restarts from the revision after the last event, with no gap and no repeat", async () => {
    await using server = await startEtcd();
    const client = new Etcd3({ hosts: server.endpoints });
    const writer = new Etcd3({ hosts: server.endpoints });
    try {
      const start = BigInt((await writer.put("other").value("x").exec()).header.revision) + 1n;
      const seen: WatchEvent[] = [];
      const errors: unknown[] = [];
      const watch = new ResumableWatch(client, "svc/", start, {
        retryDelayMs: fast,
        onEvents: (events) => seen.push(...events),
        onError: (error) => errors.push(error),
      });
      expect(liveResumableWatches(client)).toBe(1);
      // One revision, two events: both arrive, in one call.
      await writer
        .if("svc/a", "Create", "==", 0)
        .then(writer.put("svc/a").value("1"), writer.put("svc/b").value("2"))
        .commit();
      await expect.poll(() => seen.length, poll).toBe(2);
      expect(seen[0]!.revision).toBe(seen[1]!.revision);

      await server.restart();
      // Written while the watch is re-opening: it must still be seen, once.
      // The writer's own connection to the restarted etcd may still be coming back: retry until it takes.
      await expect
        .poll(
          () =>
            writer
              .delete()
              .key("svc/a")
              .then(
                () => true,
                () => false,
              ),
          poll,
        )
        .toBe(true);
      await writer.put("svc/c").value("3");
      await expect.poll(() => seen.length, poll).toBe(4);
      const revision = seen[0]!.revision;
      expect(described(seen)).toEqual([
        `put svc/a@${revision}`,
        `put svc/b@${revision}`,
        `delete svc/a@${revision + 1n}`,
        `put svc/c@${revision + 2n}`,
      ]);
      expect(watch.streamsOpened).toBeGreaterThanOrEqual(2);
      expect(watch.nextRevision).toBe(revision + 3n);
      expect(errors).toEqual([]);
      await watch.close();
      expect(liveResumableWatches(client)).toBe(0);
    } finally {
      writer.close();
      client.close();
    }
  }, 60_000);

  it("ends with WatchCompactedError when its resume point was compacted, and reports keys without the namespace", async () => {
    await using server = await startEtcd();
    const root = new Etcd3({ hosts: server.endpoints });
    const client = root.namespace("ns/");
    try {
      const first = BigInt((await client.put("svc/a").value("1").exec()).header.revision);
      const seen: WatchEvent[] = [];
      const errors: unknown[] = [];
      const watch = new ResumableWatch(client, "svc/", first, {
        onEvents: (events) => seen.push(...events),
        onError: (error) => errors.push(error),
      });
      await expect.poll(() => described(seen), poll).toEqual([`put svc/a@${first}`]);
      await watch.close();

      await client.put("svc/b").value("2");
      const { header } = await client.put("svc/c").value("3").exec();
      await root.kv.compact({ revision: header.revision, physical: true });
      const late = new ResumableWatch(client, "svc/", first + 1n, {
        onEvents: (events) => seen.push(...events),
        onError: (error) => errors.push(error),
      });
      await expect.poll(() => errors.length, poll).toBe(1);
      expect(errors[0]).toBeInstanceOf(WatchCompactedError);
      expect((errors[0] as WatchCompactedError).compactRevision).toBe(String(header.revision));
      // An ended watch is no longer live, and close() after it is harmless.
      expect(liveResumableWatches(client)).toBe(0);
      await late.close();
      expect(seen).toHaveLength(1);
    } finally {
      root.close();
    }
  }, 60_000);
});
