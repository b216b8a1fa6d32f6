import { EventEmitter } from "node:events";
import { createManualClock, type KeepAliveStream, MemberRouter } from "@etcd-naming/etcd";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import { afterEach, describe, expect, it, vi } from "vitest";
import { register } from "./registration.js";
import { leaseTimeToLive } from "./test/etcdctl.js";

// The keep-alive stream goes to a member the etcd3 client does not know (standing in for one that is stopped,
// or just resumed with a stale view); the real etcd member is the "other member" that is asked.
const etcd = useTestEtcd();

afterEach(() => {
  vi.restoreAllMocks();
});

function streamsToAnotherMember(answer: ((leaseId: string) => object) | undefined): void {
  vi.spyOn(MemberRouter.prototype, "openKeepAlive").mockImplementation(async () => {
    const stream = Object.assign(new EventEmitter(), {
      write(request: { ID: string }) {
        if (answer !== undefined) setImmediate(() => stream.emit("data", answer(String(request.ID))));
        return true;
      },
      end() {
        stream.removeAllListeners();
      },
    });
    return { stream: stream as unknown as KeepAliveStream, host: { host: "elsewhere:2379" } };
  });
}

async function settle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 300));
}

describe("confirming a lease loss with another member", () => {
  it("keeps the lease when its stream stays silent past the TTL but another member says it is alive", async () => {
    streamsToAnotherMember(undefined);
    const clock = createManualClock();
    const warnings: string[] = [];
    const reg = await register({
      client: etcd.client(),
      service: `${etcd.namespace}/confirm-silent`,
      addr: "10.0.0.1:1",
      ttl: 9,
      clock,
      logger: { warn: (_fields, m) => warnings.push(m) },
    });
    const leaseId = reg.leaseId;
    const lost: string[] = [];
    reg.on("lost", (e) => lost.push(e.message));

    // The first tick opens the stream; the rest of the TTL passes with no answer on it.
    clock.advance(3000);
    await settle();
    clock.advance(6000);
    await vi.waitFor(() => expect(warnings.length + lost.length).toBeGreaterThan(0), {
      timeout: 3000,
      interval: 5,
    });
    await settle();
    expect(lost).toEqual([]);
    expect(warnings.join("\n")).toContain("reports");
    expect(reg.leaseId).toBe(leaseId);
    expect((await leaseTimeToLive(etcd.endpoints, leaseId)).keys).toEqual([reg.key]);
    await reg.deregister();
  });

  it("does not take a TTL of 0 from one member as the lease's loss when another member says it is alive", async () => {
    streamsToAnotherMember((id) => ({ ID: id, TTL: "0" }));
    const clock = createManualClock();
    const reg = await register({
      client: etcd.client(),
      service: `${etcd.namespace}/confirm-stale`,
      addr: "10.0.0.2:1",
      ttl: 9,
      clock,
      logger: { warn: () => undefined },
    });
    const leaseId = reg.leaseId;
    const lost: string[] = [];
    reg.on("lost", (e) => lost.push(e.message));

    clock.advance(3000);
    await settle();
    expect(lost).toEqual([]);
    expect(reg.leaseId).toBe(leaseId);
    await reg.deregister();
  });
});
