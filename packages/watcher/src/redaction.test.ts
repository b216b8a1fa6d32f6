import { describe, expect, it } from "vitest";
import { WatcherError } from "./errors.js";
import { watchService } from "./service-watcher.js";
import type { NamingSource } from "./source.js";

// What grpc-js says when etcd3 was given a host with user info: it resolves the whole text as a name.
const PASSWORD = "PwSecret9@x/y";
const grpcMessage = (): string =>
  `14 UNAVAILABLE: Name resolution failed for target dns:u1:${PASSWORD}@127.0.0.1:2379`;

describe("a cause that quotes a password", () => {
  it("reaches no error, cause or log line of the watcher", async () => {
    let lists = 0;
    const source: NamingSource = {
      list: async () => {
        lists++;
        throw new Error(grpcMessage());
      },
      watch: () => async () => {},
    };
    const lines: unknown[] = [];
    const log = (...args: unknown[]) => lines.push(args);
    const watcher = watchService(source, "svc", {
      logger: { warn: log, error: log, info: log, debug: log },
      backoff: { initialDelayMs: 20, maxDelayMs: 40, jitter: 0 },
    });
    const errors: WatcherError[] = [];
    watcher.on("error", (error) => errors.push(error));
    try {
      await expect.poll(() => errors.length, { timeout: 5_000 }).toBeGreaterThanOrEqual(2);
    } finally {
      await watcher.close();
    }
    expect(lists).toBeGreaterThanOrEqual(2);
    const error = errors[0]!;
    expect(error.message).toContain("Name resolution failed for target ***@127.0.0.1:2379");
    expect(error.message).toContain("etcd3's auth option");
    const shown = [
      error.message,
      error.stack,
      (error.cause as Error).message,
      (error.cause as Error).stack,
      JSON.stringify(lines, (_key, value) =>
        value instanceof Error ? { message: value.message, stack: value.stack } : value,
      ),
    ].join("\n");
    expect(lines.length).toBeGreaterThan(0);
    expect(shown).not.toContain("PwSecret9");
  });

  it("is redacted by WatcherError itself, message and cause", () => {
    const cause = new Error(grpcMessage());
    const error = new WatcherError("SOURCE_UNAVAILABLE", `listing svc/ failed: ${cause.message}`, { cause });
    expect(error.message).not.toContain("PwSecret9");
    expect(error.cause).toBe(cause);
    expect(cause.message).toBe("14 UNAVAILABLE: Name resolution failed for target ***@127.0.0.1:2379");
    expect(cause.stack).not.toContain("PwSecret9");
  });
});
