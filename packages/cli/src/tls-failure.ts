import { X509Certificate } from "node:crypto";
import { type ClientCertificateInfo, explainTlsFailure } from "@etcd-naming/etcd";
import { CliError } from "./cli-error.js";
import { type ConnectionSettings, readInputFile } from "./connection.js";

/** The `--cert` file's dates, or undefined when there is none or it cannot be read. */
function certificateOf(settings: ConnectionSettings): ClientCertificateInfo | undefined {
  if (settings.tls.cert === undefined) return undefined;
  try {
    const cert = new X509Certificate(readInputFile("--cert", settings.tls.cert));
    return {
      subject: cert.subject.replace(/\n/g, ", "),
      validFrom: new Date(cert.validFrom),
      validTo: new Date(cert.validTo),
    };
  } catch {
    return undefined;
  }
}

/**
 * The one-line error for a connection that failed in the TLS handshake (an expired `--cert`, an expired
 * etcd certificate, a refused client certificate), naming the certificate and the endpoints; undefined
 * for any other failure. Checked before the generic "cannot reach etcd", whose advice does not apply.
 */
export function tlsFailureError(settings: ConnectionSettings, cause: unknown): CliError | undefined {
  if (!(cause instanceof Error)) return undefined;
  const where = settings.endpoints.join(",");
  const reason = explainTlsFailure(cause.message, where, certificateOf(settings));
  if (reason === undefined) return undefined;
  const file = settings.tls.cert === undefined ? "" : ` (--cert ${settings.tls.cert})`;
  return new CliError("UNREACHABLE", `cannot connect to etcd at ${where}: ${reason}${file}`, { cause });
}
