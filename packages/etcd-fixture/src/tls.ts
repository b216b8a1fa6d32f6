import { readFile } from "node:fs/promises";
import type { TestCertificates } from "./certificates.js";
import { EtcdFixtureError } from "./errors.js";
import type { HttpTls } from "./http-json.js";

/** TLS on an etcd's client port. Peers stay on plain http: they only ever talk over loopback. */
export interface EtcdTlsOptions {
  /**
   * The CA of the server certificate, trusted by the fixture's checks; with `clientCertAuth` also the CA
   * etcd checks client certificates against (`--trusted-ca-file`: etcd requires client certificates
   * whenever that flag is set, so it is only passed with `clientCertAuth`).
   */
  caFile: string;
  /** Server certificate and key (`--cert-file`, `--key-file`); must cover `127.0.0.1`. */
  certFile: string;
  keyFile: string;
  /** Require a client certificate signed by the CA (`--client-cert-auth`). */
  clientCertAuth?: boolean;
  /**
   * The client certificate the fixture's own health and status checks present. Required with
   * `clientCertAuth`; ignored otherwise.
   */
  clientCertFile?: string;
  clientKeyFile?: string;
}

/** The flags and the https material of a TLS member. */
export interface ResolvedTls {
  args: string[];
  http: HttpTls;
}

/** Reads the PEM files once (a missing file fails the start, not every health check). */
export async function resolveTls(tls: EtcdTlsOptions | undefined): Promise<ResolvedTls | undefined> {
  if (tls === undefined) return undefined;
  const mutual = tls.clientCertAuth === true;
  if (mutual && (tls.clientCertFile === undefined || tls.clientKeyFile === undefined)) {
    throw new EtcdFixtureError(
      "INVALID_OPTIONS",
      "tls.clientCertAuth needs tls.clientCertFile and tls.clientKeyFile for the fixture's health checks",
    );
  }
  const read = (file: string): Promise<Buffer> =>
    readFile(file).catch((error: unknown) => {
      throw new EtcdFixtureError(
        "INVALID_OPTIONS",
        `cannot read TLS file ${file}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    });
  const http: HttpTls = { ca: await read(tls.caFile) };
  if (mutual) {
    http.cert = await read(tls.clientCertFile!);
    http.key = await read(tls.clientKeyFile!);
  }
  const args = [`--cert-file=${tls.certFile}`, `--key-file=${tls.keyFile}`];
  if (mutual) args.push(`--trusted-ca-file=${tls.caFile}`, "--client-cert-auth=true");
  return { args, http };
}

/**
 * {@link EtcdTlsOptions} from {@link TestCertificates}: the generated server certificate, and with
 * `clientCertAuth` the client certificate named `client` (default: the first one) for health checks.
 */
export function tlsFromCertificates(
  certs: TestCertificates,
  options: { clientCertAuth?: boolean; client?: string } = {},
): EtcdTlsOptions {
  const tls: EtcdTlsOptions = {
    caFile: certs.caFile,
    certFile: certs.server.certFile,
    keyFile: certs.server.keyFile,
  };
  if (options.clientCertAuth !== true) return tls;
  const name = options.client ?? Object.keys(certs.clients)[0];
  const client = name === undefined ? undefined : certs.clients[name];
  if (client === undefined) {
    throw new EtcdFixtureError("INVALID_OPTIONS", `no client certificate ${JSON.stringify(name ?? "")}`);
  }
  return { ...tls, clientCertAuth: true, clientCertFile: client.certFile, clientKeyFile: client.keyFile };
}
