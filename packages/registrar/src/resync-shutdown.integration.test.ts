import { liveResumableWatches } from "@etcd-naming/etcd";
import { startEtcd } from "@etcd-naming/etcd-fixture";
import { Etcd3 } from "etcd3";
import { describe, expect, it, vi } from "vitest";
import { register } from "./registration.js";
import { etcdctl } from "./test/etcdctl.js";

// The keeper's watches re-open a broken stream only after this long (its backoff, jittered down to half of
// it: 10 s): time enough, even on a loaded machine where a fresh client takes seconds to connect, to restart
// etcd and compact the revision both watches resume from, so etcd cancels them on resume and the keeper has
// to re-list. The TTL outlasts the keep-alive's wait under the same backoff.
const slowRetry = { initialMs: 20_000, maxMs: 20_000 };

const quiet = { warn: () => undefined };

describe("re-listing after a failed delete-watch", () => {
  it("opens no new watch when the keeper shut down while the re-list was in flight", async () => {
    await using server = await startEtcd();
    const client = new Etcd3({ hosts: server.endpoints });
    try {
      const reg = await register({
        client,
        service: "svc",
        addr: "10.0.0.1:80",
        ttl: 60,
        backoff: slowRetry,
        logger: quiet,
      });
      // The delete watch of svc/ and the pause-marker watch of /etcd-naming/paused/svc/: both re-list.
      await vi.waitFor(() => expect(liveResumableWatches(client)).toBe(2), { timeout: 5000, interval: 20 });

      // Hold the re-list's range until the registration is gone; it still goes to etcd afterwards.
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const range = client.kv.range.bind(client.kv);
      const rangeSpy = vi.spyOn(client.kv, "range").mockImplementation(async (...args) => {
        await gate;
        return range(...args);
      });

      await server.stop();
      await server.start();
      const other = new Etcd3({ hosts: server.endpoints });
      try {
        // A fresh client's first call may come before etcd accepts connections again: retry until it takes.
        await vi.waitFor(() => other.put("other").value("x"), { timeout: 20_000, interval: 100 });
        const { header } = await other.delete().key("other").exec();
        await etcdctl(server.endpoints, ["compact", header.revision]);
      } finally {
        other.close();
      }
      await vi.waitFor(() => expect(rangeSpy).toHaveBeenCalledTimes(2), { timeout: 45_000, interval: 20 });
      expect(liveResumableWatches(client)).toBe(0);

      await reg.deregister();
      release();
      await vi.waitFor(() => expect(rangeSpy.mock.results.map((r) => r.type)).toEqual(["return", "return"]));
      await Promise.all(rangeSpy.mock.results.map((r) => r.value));
      // Let the re-list finish what it does after the range.
      for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
      expect(liveResumableWatches(client)).toBe(0);
    } finally {
      client.close();
    }
  }, 90_000);
});
