import { describe, expect, it } from "vitest";
import { redactingLogger } from "./clock.js";
import { etcdRefusal, RegistrarError, toRegistrarError } from "./errors.js";

const PASSWORD = "PwSecret9@x/y";
const grpcMessage = (): string =>
  `14 UNAVAILABLE: Name resolution failed for target dns:u1:${PASSWORD}@127.0.0.1:2379`;

describe("a cause that quotes a password", () => {
  it("reaches neither the message nor the cause of a RegistrarError", () => {
    const cause = new Error(grpcMessage());
    const error = toRegistrarError(cause, "ETCD_UNAVAILABLE", "etcd did not grant a lease");
    expect(error).toBeInstanceOf(RegistrarError);
    expect(error.message).toBe(
      "etcd did not grant a lease: 14 UNAVAILABLE: Name resolution failed for target ***@127.0.0.1:2379 " +
        "(an etcd3 host must not carry user:password@; pass credentials in etcd3's auth option)",
    );
    expect(error.cause).toBe(cause);
    expect(`${cause.message}\n${cause.stack}\n${error.stack}`).not.toContain("PwSecret9");
  });

  it("reaches no refusal either", () => {
    const cause = new Error(`etcdserver: request is too large (http://u1:${PASSWORD}@h:1)`);
    const error = etcdRefusal(cause, "writing");
    expect(error?.code).toBe("REQUEST_TOO_LARGE");
    expect(`${error?.message}\n${cause.message}`).not.toContain("PwSecret9");
  });

  it("reaches no warning of the caller's logger", () => {
    const lines: unknown[][] = [];
    const logger = redactingLogger({ warn: (fields, message) => lines.push([fields, message]) });
    const err = new Error(grpcMessage());
    logger.warn?.({ err }, `lease keeper stopped unexpectedly: Error: ${grpcMessage()}`);
    expect(lines).toEqual([
      [
        { component: "registrar", err },
        "lease keeper stopped unexpectedly: Error: 14 UNAVAILABLE: Name resolution failed for target ***@127.0.0.1:2379",
      ],
    ]);
    expect(`${err.message}\n${err.stack}`).not.toContain("PwSecret9");
  });
});
