import { createTestCertificates, type TestCertificates } from "./certificates.js";
import { type EtcdServer, type StartEtcdOptions, startEtcd } from "./etcd-server.js";
import { tlsFromCertificates } from "./tls.js";

/** Options of {@link startTlsEtcd}: those of `startEtcd`, with TLS from freshly generated certificates. */
export interface StartTlsEtcdOptions extends Omit<StartEtcdOptions, "tls"> {
  /** Common names of the client certificates to issue (default `["client"]`). */
  clients?: string[];
  /** Require a client certificate (`--client-cert-auth`). */
  clientCertAuth?: boolean;
  /** With `clientCertAuth`, the client certificate the fixture's checks present (default: the first). */
  client?: string;
}

/** An etcd with TLS on its client port and the certificates it was started with. */
export interface TlsEtcd extends AsyncDisposable {
  readonly server: EtcdServer;
  readonly certs: TestCertificates;
  /** `https://127.0.0.1:PORT`, what the CLI and etcdctl take. */
  readonly url: string;
  /** Stops etcd, then removes the certificates. */
  close(): Promise<void>;
}

/**
 * Generates a private CA with a server certificate and client certificates, and starts etcd with TLS
 * on them; the certificates are removed if etcd does not start.
 *
 * @example
 * await using tls = await startTlsEtcd({ clientCertAuth: true });
 * // `--cacert ${tls.certs.caFile}` trusts it
 */
export async function startTlsEtcd(options: StartTlsEtcdOptions = {}): Promise<TlsEtcd> {
  const { clients, clientCertAuth, client, ...rest } = options;
  const certs = await createTestCertificates(clients === undefined ? {} : { clients });
  let server: EtcdServer;
  try {
    const tls = tlsFromCertificates(certs, {
      clientCertAuth: clientCertAuth === true,
      ...(client === undefined ? {} : { client }),
    });
    server = await startEtcd({ ...rest, tls });
  } catch (error) {
    await certs.close();
    throw error;
  }
  const close = async (): Promise<void> => {
    try {
      await server.close();
    } finally {
      await certs.close();
    }
  };
  return { server, certs, url: server.clientUrls[0]!, close, [Symbol.asyncDispose]: close };
}
