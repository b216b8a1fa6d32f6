import { describe, expect, it } from "vitest";
import { redactError, redactSecrets } from "./redact.js";

describe("redactSecrets", () => {
  const cases: [string, string][] = [
    ["http://fz1:Pw1234@127.0.0.1:2379", "http://***@127.0.0.1:2379"],
    ["https://user:pass@etcd.local:2379/v3", "https://***@etcd.local:2379/v3"],
    ["https://tok3n@etcd.local:2379", "https://***@etcd.local:2379"],
    // "@", "/" and ":" inside a password: everything before the last "@" goes.
    ["http://fz40:PwExample03@x@127.0.0.1:30482", "http://***@127.0.0.1:30482"],
    ["http://u:Pw/x@127.0.0.1:1", "http://***@127.0.0.1:1"],
    ["http://u:Pw:a@b/c@127.0.0.1:1", "http://***@127.0.0.1:1"],
    ["http://u:Pw%40@127.0.0.1:1", "http://***@127.0.0.1:1"],
    // grpc-js quotes etcd3's target with its own scheme and without "//".
    [
      "14 UNAVAILABLE: Name resolution failed for target dns:fz40:PwExample03@x@127.0.0.1:30482",
      "14 UNAVAILABLE: Name resolution failed for target ***@127.0.0.1:30482",
    ],
    ["fz:Pw/x@127.0.0.1:1 failed", "***@127.0.0.1:1 failed"],
    ['endpoint "u:p@ss@h:1"', 'endpoint "***@h:1"'],
    ["(http://u:p@h:1)", "(http://***@h:1)"],
    ["a http://u:p@h:1 and b:q@h:2", "a http://***@h:1 and ***@h:2"],
    // Blanks inside a password: the user info starts at the word that holds "user:" or "scheme://".
    ["target dns:fz7:Pwa0AAeNCA61 sp@127.0.0.1:26049", "target ***@127.0.0.1:26049"],
    ["http://u:Pw a b@h:1 failed", "http://***@h:1 failed"],
    ["line one\nhttp://u:Pw sp@h:1", "line one\nhttp://***@h:1"],
    // Which blank ends a URL cannot be told: on the same line, the safe side is to mask more.
    ["http://h:1 then svc/a@b", "http://***@b"],
  ];
  it.each(cases)("%j → %j", (text, expected) => {
    expect(redactSecrets(text)).toBe(expected);
  });

  it("leaves text without user info alone", () => {
    for (const text of [
      "listing svc/lib/ failed: 14 UNAVAILABLE: No connection established",
      "http://127.0.0.1:2379",
      "ops@example",
      "@",
      "",
      "dns:127.0.0.1:2379",
      "listing svc/ failed: cannot decode svc/a@b",
      "skipping svc/a@b: invalid JSON",
    ]) {
      expect(redactSecrets(text)).toBe(text);
    }
  });
});

describe("redactError", () => {
  it("redacts message, stack, string fields and causes in place", () => {
    const inner = new Error("target dns:u:Pw@x@127.0.0.1:1");
    (inner as Error & { details?: string }).details = "u:Pw@x@127.0.0.1:1";
    const outer = new Error("wrapped http://u:Pw@x@127.0.0.1:1", { cause: inner });
    expect(redactError(outer)).toBe(outer);
    expect(outer.message).toBe("wrapped http://***@127.0.0.1:1");
    expect(outer.stack).not.toContain("Pw");
    expect(inner.message).toBe("target ***@127.0.0.1:1");
    expect(inner.stack).not.toContain("Pw");
    expect((inner as Error & { details?: string }).details).toBe("***@127.0.0.1:1");
  });

  it("leaves values that are not errors alone", () => {
    const value = { message: "http://u:p@h:1" };
    expect(redactError(value)).toBe(value);
    expect(value.message).toBe("http://u:p@h:1");
    expect(redactError("http://u:p@h:1")).toBe("http://u:p@h:1");
  });
});
