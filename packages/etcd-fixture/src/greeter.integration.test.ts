import { describe, expect, it } from "vitest";
import { callGreeterOnce, greeterClient, greeters, startGreeter } from "./greeter.js";

describe("test greeter", () => {
  it("answers with its id, counts calls and records the authority", async () => {
    await using server = await startGreeter("g-1");
    expect(server.addr).toMatch(/^127\.0\.0\.1:\d+$/);
    const client = greeterClient(server.addr, { deadlineMs: 2_000 });
    try {
      expect(await client.whoAmI()).toBe("g-1");
      expect(await client.spread(3)).toEqual(new Map([["g-1", 3]]));
      expect(server.calls).toBe(4);
      expect([...server.authorities]).toEqual([server.addr]);
    } finally {
      client.close();
    }
    expect(await callGreeterOnce(server.addr)).toBe("g-1");
  });

  it("counts failed calls under 'error' once the server is closed", async () => {
    const server = await startGreeter("g-2");
    await server.close();
    await server.close();
    const client = greeterClient(server.addr);
    try {
      expect(await client.spread(2, { deadlineMs: 300 })).toEqual(new Map([["error", 2]]));
      await expect(callGreeterOnce(server.addr, { deadlineMs: 300 })).rejects.toThrow(
        /UNAVAILABLE|DEADLINE_EXCEEDED/,
      );
    } finally {
      client.close();
    }
  });

  it("greeters() closes every client and server it started", async () => {
    const tracked = greeters();
    const server = await tracked.server("g-3");
    const client = tracked.connect(server.addr, { deadlineMs: 2_000 });
    expect(await client.whoAmI()).toBe("g-3");
    await tracked.close();
    await expect(client.whoAmI()).rejects.toThrow("Channel has been shut down");
    await expect(callGreeterOnce(server.addr, { deadlineMs: 300 })).rejects.toThrow(
      /UNAVAILABLE|DEADLINE_EXCEEDED/,
    );
  });
});
