import { Etcd3 } from "etcd3";
import { afterAll, describe, expect, it } from "vitest";
import { RegistrarError } from "./errors.js";
import { register } from "./registration.js";

// Nothing listens on port 1.
const client = new Etcd3({ hosts: "127.0.0.1:1" });
afterAll(() => client.close());

describe("register without etcd", () => {
  it("rejects with ETCD_UNAVAILABLE instead of hanging, and can be retried", async () => {
    for (let attempt = 0; attempt < 2; attempt++) {
      const error = await register({ client, service: "svc", addr: "10.0.0.1:80", ttl: 3 }).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(RegistrarError);
      expect((error as RegistrarError).code).toBe("ETCD_UNAVAILABLE");
    }
  }, 20_000);

  it("refuses backoff options no timer can wait, before anything is sent", async () => {
    const error = await register({
      client,
      service: "svc",
      addr: "10.0.0.1:80",
      backoff: { maxMs: 1e12 },
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "INVALID_INPUT", message: expect.stringContaining("backoff.maxMs") });
  });
});
