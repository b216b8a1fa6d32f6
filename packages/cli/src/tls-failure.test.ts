import { createCertificateAuthority } from "@etcd-naming/etcd-fixture";
import { GRPCUnavailableError } from "etcd3";
import { describe, expect, it, vi } from "vitest";
import { resolveConnection, unreachableError } from "./connection.js";

// What grpc-js reports when etcd refuses the client certificate: 3.5 sends "certificate expired", 3.4 only
// "bad certificate".
const refused = (alert: string) =>
  new GRPCUnavailableError(
    `14 UNAVAILABLE: No connection established. Last error: 40DDE138A87F0000:error:0A000415:SSL routines:ssl3_read_bytes:${alert}:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:918:SSL alert number 45. Resolution note: `,
  );

describe("a failed TLS handshake", () => {
  it("names the expired --cert, when it expired and the endpoints, instead of asking whether etcd runs", async () => {
    await using ca = await createCertificateAuthority();
    const cert = await ca.issue("app", { usage: "client", lifetimeMs: 1_000 });
    await vi.waitFor(() => expect(Date.now()).toBeGreaterThan(cert.notAfter.getTime()), {
      timeout: 5_000,
      interval: 50,
    });
    const settings = resolveConnection(
      { endpoints: "https://127.0.0.1:2379", cacert: ca.caFile, cert: cert.certFile, key: cert.keyFile },
      {},
    );
    const error = unreachableError(settings, refused("sslv3 alert bad certificate"));
    expect(error.code).toBe("UNREACHABLE");
    expect(error.message).toBe(
      `cannot connect to etcd at https://127.0.0.1:2379: the client certificate CN=app expired at ${cert.notAfter.toISOString()}; etcd at https://127.0.0.1:2379 refused the TLS handshake (alert bad certificate) (--cert ${cert.certFile})`,
    );
  });

  it("says etcd refused an expired certificate when there is no --cert to read, and leaves other failures as they were", () => {
    const settings = resolveConnection({ endpoints: "https://127.0.0.1:2379" }, {});
    expect(unreachableError(settings, refused("ssl/tls alert certificate expired")).message).toBe(
      "cannot connect to etcd at https://127.0.0.1:2379: etcd at https://127.0.0.1:2379 refused the TLS handshake (alert certificate expired): the client certificate has expired",
    );
    const refusedConnection = new GRPCUnavailableError(
      "14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:2379. Resolution note: ",
    );
    expect(unreachableError(settings, refusedConnection).message).toMatch(
      /^cannot reach etcd at https:\/\/127\.0\.0\.1:2379 .*connect ECONNREFUSED 127\.0\.0\.1:2379\. Is etcd running\?/,
    );
  });
});
