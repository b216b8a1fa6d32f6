import { describe, expect, it } from "vitest";
import type { Member } from "./etcd3-pool.js";
import { MemberRouter } from "./member-router.js";

function fakeClient(hosts: string[]): { client: never; members: Member[]; failed: string[] } {
  const members = hosts.map((host) => ({ host, getServiceClient: () => ({}) }));
  const failed: string[] = [];
  const pool = {
    hosts: members,
    callOptionsFactory: undefined,
    authenticator: { invalidateMetadata: () => undefined },
    withConnection: () => Promise.reject(new Error("not connected")),
    markFailed: (member: Member) => failed.push(member.host),
  };
  return { client: { pool, prefix: Buffer.alloc(0) } as never, members, failed };
}

const firstRound = (router: MemberRouter): string[] => {
  const order = router.order();
  return router.members.map(() => order.next().value!.host);
};

describe("MemberRouter ranking", () => {
  it("puts members that answered first, then those never heard from, then the least recently silent", () => {
    const { client, members } = fakeClient(["a", "b", "c", "d"]);
    const router = new MemberRouter(client, { random: () => 0 });
    const [a, b, c, d] = members;
    router.noteSilent(a);
    router.noteSilent(b);
    router.answered(c);
    expect(firstRound(router)).toEqual(["c", "d", "a", "b"]);
    router.answered(a); // answered since it went silent
    router.noteSilent(c);
    expect(firstRound(router)).toEqual(["a", "d", "b", "c"]);
    expect(d).toBeDefined();
  });

  it("repeats the ranked members without end", () => {
    const { client } = fakeClient(["a", "b"]);
    const order = new MemberRouter(client).order();
    const drawn = Array.from({ length: 6 }, () => order.next().value!.host);
    expect(drawn.slice(0, 2).sort()).toEqual(["a", "b"]);
    expect(drawn.slice(2)).toEqual([...drawn.slice(0, 2), ...drawn.slice(0, 2)]);
  });

  it("closes a silent member's channels only when there is another member to go to", () => {
    const many = fakeClient(["a", "b"]);
    new MemberRouter(many.client).silent(many.members[0], "no answer");
    expect(many.failed).toEqual(["a"]);
    const one = fakeClient(["a"]);
    const router = new MemberRouter(one.client);
    router.silent(one.members[0], "no answer");
    expect(one.failed).toEqual([]);
    // A failure reported directly follows the same rule: only with another member to go to.
    router.reportFailure(one.members[0]!, new Error("stream broke"));
    expect(one.failed).toEqual([]);
    new MemberRouter(many.client).reportFailure(many.members[1]!, new Error("stream broke"));
    expect(many.failed).toEqual(["a", "b"]);
  });

  it("has no members, and calls through the client, when the client has no pool it can drive", async () => {
    const router = new MemberRouter({} as never);
    expect(router.members).toEqual([]);
    expect(await router.call("KV", "range", {}, 1_000, async () => "via client")).toBe("via client");
    expect(await router.allMembersAnswer(10)).toBe(true);
    await expect(router.openStream("Watch", "watch")).rejects.toThrow(/no connection pool/);
  });
});
