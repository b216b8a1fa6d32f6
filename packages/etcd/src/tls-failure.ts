import type { ClientCertificateInfo } from "./client-certificate.js";

// A TLS handshake that fails reaches the caller as grpc-js's "14 UNAVAILABLE: No connection established.
// Last error: <openssl's error line>": it names neither the member nor the certificate, and etcd built
// with an older Go (3.4) answers an expired client certificate with a plain "bad certificate" alert.

/** An alert etcd sent during the handshake (`ssl/tls alert certificate expired`, `sslv3 alert bad certificate`). */
const ALERT = /(?:ssl\/tls|sslv3|tlsv1) alert ([a-z ]+?)(?::|\.|$)/i;
/** Node's own check of etcd's certificate failed. */
const SERVER_EXPIRED = /certificate has expired|CERT_HAS_EXPIRED/;
const SERVER_NOT_YET_VALID = /certificate is not yet valid|CERT_NOT_YET_VALID/;
/** Alerts that say the client certificate was refused. */
const REFUSED_CLIENT_CERT =
  /^(certificate expired|bad certificate|certificate unknown|unknown ca|certificate required)$/;

/**
 * An operator's account of a failed TLS handshake with the etcd member `host` (`host:port`), or undefined
 * when `message` is not one. With the client's own certificate it says when that certificate expired, since
 * the alert alone may not: "the client certificate CN=app expired at 2026-…Z; etcd at 127.0.0.1:2379
 * refused the TLS handshake (alert certificate expired)".
 */
export function explainTlsFailure(
  message: string,
  host: string,
  certificate?: ClientCertificateInfo,
  now: number = Date.now(),
): string | undefined {
  if (SERVER_EXPIRED.test(message)) {
    return `the certificate of etcd at ${host} has expired (the TLS handshake failed: certificate has expired)`;
  }
  if (SERVER_NOT_YET_VALID.test(message)) {
    return `the certificate of etcd at ${host} is not valid yet (the TLS handshake failed: certificate is not yet valid)`;
  }
  const alert = ALERT.exec(message)?.[1]?.toLowerCase();
  if (alert === undefined) return undefined;
  const refused = `etcd at ${host} refused the TLS handshake (alert ${alert})`;
  if (certificate !== undefined && REFUSED_CLIENT_CERT.test(alert)) {
    const name = `the client certificate ${certificate.subject}`;
    if (certificate.validTo.getTime() <= now) {
      return `${name} expired at ${certificate.validTo.toISOString()}; ${refused}`;
    }
    if (certificate.validFrom.getTime() > now) {
      return `${name} is not valid until ${certificate.validFrom.toISOString()}; ${refused}`;
    }
    return `${refused}: it did not accept ${name} (valid until ${certificate.validTo.toISOString()})`;
  }
  if (alert === "certificate expired") return `${refused}: the client certificate has expired`;
  if (alert === "certificate required") return `${refused}: it requires a client certificate`;
  return refused;
}

/**
 * Rewrites the message of a gRPC error that is a failed TLS handshake with `host` to
 * {@link explainTlsFailure}'s account, keeping its status in front ("14 UNAVAILABLE: …"); the error keeps
 * its class, code and details. Returns whether it did.
 */
export function explainTlsError(error: unknown, host: string, certificate?: ClientCertificateInfo): boolean {
  if (!(error instanceof Error)) return false;
  const explained = explainTlsFailure(error.message, host, certificate);
  if (explained === undefined || error.message.includes(explained)) return false;
  const status = /^\d+ [A-Z_]+: /.exec(error.message)?.[0] ?? "";
  try {
    error.message = `${status}${explained}`;
  } catch {
    return false;
  }
  return true;
}
