import { execFile } from "node:child_process";
import { readFile } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { systemClock } from "./clock.js";

// Inside an I/O callback Node runs immediates before timers, so the order below is deterministic.
const inIoCallback = (fn: () => void): void => readFile(import.meta.filename, () => fn());

describe("systemClock", () => {
  it("runs a zero delay without the 1 ms floor of a 0 ms timeout, never synchronously", async () => {
    const order = await new Promise<string[]>((resolve) => {
      inIoCallback(() => {
        const seen: string[] = [];
        setTimeout(() => {
          seen.push("global 0 ms timeout");
          resolve(seen);
        }, 0);
        systemClock.setTimeout(() => seen.push("clock 0 ms"), 0);
        seen.push("sync");
      });
    });
    expect(order).toEqual(["sync", "clock 0 ms", "global 0 ms timeout"]);
  });

  it("runs a zero delay on the next turn even when the loop would otherwise block in poll", async () => {
    // In a fresh process whose only other work is a ref'd 1 s timer, the loop blocks in poll until that
    // timer unless the zero delay keeps it turning (an unref'd immediate does not).
    const clockUrl = new URL("./clock.ts", import.meta.url).href;
    const script = `
      import { systemClock } from ${JSON.stringify(clockUrl)};
      const guard = setTimeout(() => { console.log("blocked"); }, 1000);
      setTimeout(() => {
        const start = performance.now();
        systemClock.setTimeout(() => { console.log(performance.now() - start); clearTimeout(guard); }, 0);
      }, 10);`;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "-e", script],
      { cwd: fileURLToPath(new URL(".", import.meta.url)), timeout: 20_000 },
    );
    expect(stdout.trim()).toMatch(/^[0-9.]+$/);
    expect(Number(stdout.trim())).toBeLessThan(500);
  });

  it("cancels zero and positive delays alike", async () => {
    const fired: string[] = [];
    systemClock.clearTimeout(systemClock.setTimeout(() => fired.push("zero"), 0));
    systemClock.clearTimeout(systemClock.setTimeout(() => fired.push("five"), 5));
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(fired).toEqual([]);
  });

  it("fires positive delays", async () => {
    const at = Date.now();
    const elapsed = await new Promise<number>((resolve) =>
      systemClock.setTimeout(() => resolve(Date.now() - at), 5),
    );
    expect(elapsed).toBeGreaterThanOrEqual(4);
  });
});
