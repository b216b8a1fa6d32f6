import { describe, it } from "vitest";
import { expectKeepAliveOutlives } from "./test/keepalive-fault.js";

describe("keep-alive on a 3-member cluster", () => {
  // A killed member fails its stream with an error rather than silence: the renewals must leave it too.
  it("moves a keep-alive stream off a member that was killed, before the lease expires", async () => {
    await expectKeepAliveOutlives({ apply: (member) => member.kill(), undo: (member) => member.start() });
  }, 60_000);
});
