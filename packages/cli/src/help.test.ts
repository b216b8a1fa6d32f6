import { describe, expect, it } from "vitest";
import { createCli } from "./cli.js";
import { runInProcess } from "./test/capture.js";

// The help of the program and of every command, as users read it: a change shows up in review.
const commands = createCli({ env: {} }).program.commands.map((c) => c.name());

describe("--help", () => {
  it("of the program", async () => {
    const run = await runInProcess(["--help"]);
    expect(run).toMatchObject({ code: 0, stderr: "" });
    expect(run.stdout).toMatchSnapshot();
  });

  it.each(commands)("of %s", async (name) => {
    const run = await runInProcess([name, "--help"]);
    expect(run).toMatchObject({ code: 0, stderr: "" });
    expect(run.stdout).toMatch(new RegExp(`^Usage: etcd-naming ${name} `));
    expect(run.stdout).toMatchSnapshot();
  });
});
