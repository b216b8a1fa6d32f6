import { describe, expect, it } from "vitest";
import { KeeperEntry } from "./keeper-entry.js";

const value = '{"Op":0,"Addr":"10.0.0.1:1","Metadata":null}';

function entry(events: string[] = []): KeeperEntry {
  return new KeeperEntry("svc/a", "svc", value, {
    lost: () => events.push("lost"),
    reregistered: () => events.push("reregistered"),
    error: () => events.push("error"),
    pauseChanged: (paused) => events.push(paused ? "paused" : "resumed"),
  });
}

const opKinds = (e: KeeperEntry) =>
  e
    .ops(e.plan(), "7")
    .map((op) =>
      op.request_put
        ? `put ${op.request_put.key?.toString()} lease ${op.request_put.lease}`
        : `delete ${op.request_delete_range?.key?.toString()}`,
    );

describe("KeeperEntry pause state", () => {
  it("writes the key when served, the marker and a delete of the key when paused, and cleans the marker up", () => {
    const events: string[] = [];
    const e = entry(events);
    expect(opKinds(e)).toEqual(["put svc/a lease 7"]);
    e.stateWritten(e.plan(), 10n);
    expect(e.stateRevision).toBe(10n);

    expect(e.want(true)).toBe(true);
    expect(opKinds(e)).toEqual(["put /etcd-naming/paused/svc/a lease 7", "delete svc/a"]);
    expect(e.ops(e.plan(), "7")[0]?.request_put?.value?.toString()).toBe(
      JSON.stringify({ state: "paused", value }),
    );
    e.stateWritten(e.plan(), 12n);
    expect([e.marked, e.stateRevision, events]).toEqual([true, 12n, ["paused"]]);

    expect(e.want(false)).toBe(true);
    expect(opKinds(e)).toEqual(["put svc/a lease 7", "delete /etcd-naming/paused/svc/a"]);
    e.stateWritten(e.plan(), 15n);
    expect([e.marked, e.stateRevision, events]).toEqual([false, 15n, ["paused", "resumed"]]);

    // A plain re-put (a metadata change) does not move the pause-state revision.
    e.stateWritten(e.plan(), 20n);
    expect(e.stateRevision).toBe(15n);
  });

  it("wants no write for the state it is in once written", () => {
    const e = entry();
    e.dirty = false;
    expect(e.want(false)).toBe(false);
    e.dirty = true;
    expect(e.want(false)).toBe(true);
  });

  it("decides a marker seen during its own write only once that write's revision is known", () => {
    const e = entry();
    e.stateWritten(e.plan(), 10n);
    // pause() is being written (revision 12, not known yet) when resume() is called and the watch
    // delivers the pause's own marker first: it must not pause the entry again.
    e.want(true);
    const pausing = e.plan();
    e.writing = true;
    e.want(false);
    e.hold(12n, true);
    e.writing = false;
    e.stateWritten(pausing, 12n);
    expect(e.released()).toBeUndefined();
    expect(e.paused).toBe(false);

    // A request written after our write is applied: the newest one held wins.
    e.hold(14n, true);
    e.hold(13n, false);
    expect(e.released()).toBe(true);
    expect(e.released()).toBeUndefined();
  });

  it("gives up a pause the role may not write, naming both prefixes", () => {
    const e = entry();
    e.stateWritten(e.plan(), 10n);
    e.want(true);
    const error = e.refused(e.plan(), new Error("etcdserver: permission denied"));
    expect(error.code).toBe("PERMISSION_DENIED");
    expect(error.message).toBe(
      "etcd permission denied: pausing svc/a needs the readwrite permission on the prefix svc/ and /etcd-naming/paused/svc/",
    );
    expect(e.paused).toBe(false);
  });
});
