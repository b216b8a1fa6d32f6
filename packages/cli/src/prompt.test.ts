import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { CliError } from "./cli-error.js";
import { terminalPrompter } from "./prompt.js";

class FakeTty extends EventEmitter {
  raw: boolean[] = [];
  setEncoding(): this {
    return this;
  }
  resume(): this {
    return this;
  }
  pause(): this {
    return this;
  }
  setRawMode(mode: boolean): this {
    this.raw.push(mode);
    return this;
  }
}

describe("terminalPrompter", () => {
  it("reads a password without echo, honouring backspace, and restores the terminal", async () => {
    const stdin = new FakeTty();
    let err = "";
    const prompter = terminalPrompter(stdin, { write: (s: string) => (err += s) });
    const answer = prompter.password("Password for root: ");
    stdin.emit("data", "hunx\u007f");
    stdin.emit("data", "ter2\r");
    await expect(answer).resolves.toBe("hunter2");
    expect(err).toBe("Password for root: \n");
    expect(stdin.raw).toEqual([true, false]);
    expect(stdin.listenerCount("data")).toBe(0);
  });

  it("aborts on Ctrl-C", async () => {
    const stdin = new FakeTty();
    const answer = terminalPrompter(stdin, { write: () => true }).password("Password: ");
    stdin.emit("data", "ab\u0003");
    await expect(answer).rejects.toBeInstanceOf(CliError);
  });

  it("confirms only on y or yes", async () => {
    for (const [typed, expected] of [
      ["y\n", true],
      ["YES\n", true],
      ["n\n", false],
      ["\n", false],
      ["yep\n", false],
    ] as const) {
      const stdin = new FakeTty();
      let err = "";
      const answer = terminalPrompter(stdin, { write: (s: string) => (err += s) }).confirm("Delete? [y/N] ");
      stdin.emit("data", typed);
      await expect(answer).resolves.toBe(expected);
      expect(err).toBe("Delete? [y/N] ");
      expect(stdin.raw).toEqual([]);
    }
  });
});
