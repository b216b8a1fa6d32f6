import { startEtcd } from "@etcd-naming/etcd-fixture";
import { Etcd3, type IOptions } from "etcd3";
import { describe, expect, it, vi } from "vitest";
import { register } from "./registration.js";
import { etcdctl } from "./test/etcdctl.js";

type WatchBackoff = NonNullable<NonNullable<IOptions["faultHandling"]>["watchBackoff"]>;

// etcd3 re-opens a broken watch stream only after this long: time enough, even on a loaded machine, to
// restart etcd and compact the revision both watches resume from, so etcd cancels them on resume and the
// keeper has to re-list.
const slowWatchReconnect = {
  duration: 8000,
  next() {
    return this;
  },
} as unknown as WatchBackoff;

const quiet = { warn: () => undefined };

/** etcd3 keeps every watcher it has not been told to cancel here (not public API). */
function attachedWatchers(client: Etcd3): number {
  return (client as unknown as { watchManager: { watchers: unknown[] } }).watchManager.watchers.length;
}

describe("re-listing after a failed delete-watch", () => {
  it("opens no new watch when the keeper shut down while the re-list was in flight", async () => {
    await using server = await startEtcd();
    const client = new Etcd3({
      hosts: server.endpoints,
      faultHandling: { watchBackoff: slowWatchReconnect },
    });
    try {
      const reg = await register({ client, service: "svc", addr: "10.0.0.1:80", ttl: 10, logger: quiet });
      // The delete watch of svc/ and the pause-marker watch of /etcd-naming/paused/svc/: both re-list.
      await vi.waitFor(() => expect(attachedWatchers(client)).toBe(2), { timeout: 5000, interval: 20 });

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
        await other.put("other").value("x");
        const { header } = await other.delete().key("other").exec();
        await etcdctl(server.endpoints, ["compact", header.revision]);
      } finally {
        other.close();
      }
      await vi.waitFor(() => expect(rangeSpy).toHaveBeenCalledTimes(2), { timeout: 25_000, interval: 20 });
      expect(attachedWatchers(client)).toBe(0);

      await reg.deregister();
      release();
      await vi.waitFor(() => expect(rangeSpy.mock.results.map((r) => r.type)).toEqual(["return", "return"]));
      await Promise.all(rangeSpy.mock.results.map((r) => r.value));
      // Let the re-list finish what it does after the range.
      for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
      expect(attachedWatchers(client)).toBe(0);
    } finally {
      client.close();
    }
  }, 60_000);
});
