import { describe, expect, it } from "vitest";
import type { ClientCertificateInfo } from "./client-certificate.js";
import { explainTlsError, explainTlsFailure } from "./tls-failure.js";

const host = "127.0.0.1:2379";
const now = Date.parse("2026-11-28T12:00:00Z");
const cert = (validTo: string, validFrom = "2026-11-27T00:00:00Z"): ClientCertificateInfo => ({
  subject: "CN=app",
  validFrom: new Date(validFrom),
  validTo: new Date(validTo),
});
// What grpc-js reports on Node 24 for the alerts etcd 3.5 (Go 1.21+) and 3.4 send.
const expiredAlert =
  "14 UNAVAILABLE: No connection established. Last error: 40DDE138A87F0000:error:0A000415:SSL routines:ssl3_read_bytes:ssl/tls alert certificate expired:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:918:SSL alert number 45\n (2026-11-28T12:30:49.979Z). Resolution note: ";
const badCertificate =
  "14 UNAVAILABLE: No connection established. Last error: 40DDE138A87F0000:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:918:SSL alert number 42. Resolution note: ";

describe("explainTlsFailure", () => {
  it("names the expired client certificate, when it expired and the member that refused it", () => {
    expect(explainTlsFailure(expiredAlert, host, cert("2026-11-28T11:59:00Z"), now)).toBe(
      "the client certificate CN=app expired at 2026-11-28T11:59:00.000Z; etcd at 127.0.0.1:2379 refused the TLS handshake (alert certificate expired)",
    );
  });

  it("says the certificate expired even when etcd (3.4) only answers bad certificate", () => {
    expect(explainTlsFailure(badCertificate, host, cert("2026-11-28T11:59:00Z"), now)).toMatch(
      /^the client certificate CN=app expired at 2026-11-28T11:59:00\.000Z; etcd at 127\.0\.0\.1:2379 refused the TLS handshake \(alert bad certificate\)$/,
    );
  });

  it("tells a refused valid certificate, a certificate not valid yet and an unknown one apart", () => {
    expect(explainTlsFailure(badCertificate, host, cert("2026-11-29T00:00:00Z"), now)).toBe(
      "etcd at 127.0.0.1:2379 refused the TLS handshake (alert bad certificate): it did not accept the client certificate CN=app (valid until 2026-11-29T00:00:00.000Z)",
    );
    expect(
      explainTlsFailure(badCertificate, host, cert("2026-11-30T00:00:00Z", "2026-11-29T00:00:00Z"), now),
    ).toMatch(/CN=app is not valid until 2026-11-29T00:00:00\.000Z; etcd at 127\.0\.0\.1:2379 refused/);
    expect(explainTlsFailure(expiredAlert, host, undefined, now)).toBe(
      "etcd at 127.0.0.1:2379 refused the TLS handshake (alert certificate expired): the client certificate has expired",
    );
  });

  it("names etcd's own expired certificate, and leaves other failures alone", () => {
    expect(
      explainTlsFailure(
        "14 UNAVAILABLE: No connection established. Last error: certificate has expired",
        host,
      ),
    ).toBe(
      "the certificate of etcd at 127.0.0.1:2379 has expired (the TLS handshake failed: certificate has expired)",
    );
    expect(
      explainTlsFailure(
        "14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED",
        host,
      ),
    ).toBeUndefined();
    expect(explainTlsFailure("etcdserver: request timed out", host)).toBeUndefined();
  });
});

describe("explainTlsError", () => {
  it("rewrites the message once, keeping the status, class and code", () => {
    const error = Object.assign(new TypeError(badCertificate), { code: 14 });
    expect(explainTlsError(error, host, cert("2000-01-01T00:00:00Z"))).toBe(true);
    expect(error.message).toMatch(
      /^14 UNAVAILABLE: the client certificate CN=app expired at 2000-01-01T00:00:00\.000Z; etcd at 127\.0\.0\.1:2379 refused/,
    );
    expect(error).toBeInstanceOf(TypeError);
    expect(error.code).toBe(14);
    expect(explainTlsError(error, host, cert("2000-01-01T00:00:00Z"))).toBe(false);
    expect(explainTlsError(new Error("connect ECONNREFUSED"), host)).toBe(false);
    expect(explainTlsError("not an error", host)).toBe(false);
  });
});
