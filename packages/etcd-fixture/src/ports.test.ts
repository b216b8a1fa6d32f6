import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fixtureStateDir } from "./cleanup.js";
import { reservePorts } from "./ports.js";

function listen(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port }, () => server.close(() => resolve()));
  });
}

describe("reservePorts", () => {
  it("hands out distinct bindable ports, locked until released", async () => {
    const reservations = await Promise.all([reservePorts(2), reservePorts(2), reservePorts(2)]);
    const ports = reservations.flatMap((r) => r.ports);
    expect(new Set(ports).size).toBe(6);
    for (const port of ports) {
      expect(existsSync(join(fixtureStateDir(), "ports", `${port}.lock`))).toBe(true);
      await listen(port);
    }
    for (const r of reservations) r.release();
    for (const port of ports)
      expect(existsSync(join(fixtureStateDir(), "ports", `${port}.lock`))).toBe(false);
  });

  it("fails with NO_FREE_PORT when it cannot find enough", async () => {
    await expect(reservePorts(3, 2)).rejects.toMatchObject({ code: "NO_FREE_PORT" });
  });
});
