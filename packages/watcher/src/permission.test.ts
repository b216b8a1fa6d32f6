import { describe, expect, it } from "vitest";
import { WatcherError } from "./errors.js";
import { watchService } from "./service-watcher.js";
import type { NamingSource } from "./source.js";

describe("a source that refuses the read", () => {
  it("reports PERMISSION_DENIED (not SOURCE_UNAVAILABLE) and retries with backoff", async () => {
    let lists = 0;
    const source: NamingSource = {
      list: async (prefix) => {
        lists++;
        throw new WatcherError("PERMISSION_DENIED", `etcd permission denied: reading ${prefix}`);
      },
      watch: () => async () => {},
    };
    const watcher = watchService(source, "svc", {
      logger: {},
      backoff: { initialDelayMs: 20, maxDelayMs: 40, jitter: 0 },
    });
    const errors: WatcherError[] = [];
    watcher.on("error", (error) => errors.push(error));
    try {
      await expect.poll(() => lists, { timeout: 5_000 }).toBeGreaterThanOrEqual(3);
      expect(errors[0]?.code).toBe("PERMISSION_DENIED");
      expect(errors[0]?.message).toContain("listing svc/ failed: etcd permission denied: reading svc/");
      expect(watcher.snapshot().endpoints).toEqual([]);
    } finally {
      await watcher.close();
    }
    const after = lists;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(lists).toBe(after);
  });
});
