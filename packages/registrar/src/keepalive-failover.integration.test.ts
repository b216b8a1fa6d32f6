import { describe, it } from "vitest";
import { expectKeepAliveOutlives } from "./test/keepalive-fault.js";

describe("keep-alive on a 3-member cluster", () => {
  it("moves a keep-alive stream off a member that stopped answering, before the lease expires", async () => {
    await expectKeepAliveOutlives({ apply: (member) => member.pause(), undo: (member) => member.resume() });
  }, 60_000);
});
