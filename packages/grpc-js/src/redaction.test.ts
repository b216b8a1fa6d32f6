import { describe, expect, it } from "vitest";
import { ResolverError } from "./errors.js";

describe("a cause that quotes a password", () => {
  it("reaches neither the message nor the cause of a ResolverError", () => {
    const cause = new Error("Name resolution failed for target dns:u1:PwSecret9@x/y@127.0.0.1:2379");
    const error = new ResolverError(
      "INVALID_OPTIONS",
      `cannot use http://u1:PwSecret9@x/y@h:1: ${cause.message}`,
      {
        cause,
      },
    );
    expect(error.message).toBe(
      "cannot use http://***@h:1: Name resolution failed for target ***@127.0.0.1:2379",
    );
    expect(error.cause).toBe(cause);
    expect(`${cause.message}\n${cause.stack}\n${error.stack}`).not.toContain("PwSecret9");
  });
});
