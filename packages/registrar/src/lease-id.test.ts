import { describe, expect, it } from "vitest";
import { formatLeaseId } from "./lease-id.js";

describe("formatLeaseId", () => {
  it("prints etcd's decimal lease ids as etcdctl does: 16 hex digits", () => {
    expect(formatLeaseId("7587899121992876098")).toBe("694da20c8de24042");
    expect(formatLeaseId("255")).toBe("00000000000000ff");
    expect(formatLeaseId("9223372036854775807")).toBe("7fffffffffffffff");
    expect(formatLeaseId("0")).toBe("0000000000000000");
  });
});
