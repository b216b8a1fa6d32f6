import { X509Certificate } from "node:crypto";
import type { Namespace } from "etcd3";

// Like etcd3-pool.ts, this reaches into etcd3's connection pool: the options the client was created with
// (`pool.options.credentials`), each host's `channelCredentials` and `cachedServices`, and the
// authenticator's `credentials`. `client-certificate.test.ts` runs against the installed etcd3.

/** The TLS material of an etcd3 client (its `IOptions.credentials`). */
export interface TlsCredentials {
  /** The CA etcd's certificate is checked against (default: the one the client has). */
  rootCertificate?: Buffer;
  /** The client certificate (PEM, may carry the chain) and its key. */
  certChain: Buffer;
  privateKey: Buffer;
}

/** What a client's own certificate says about itself. */
export interface ClientCertificateInfo {
  /** The subject, e.g. `CN=app`. */
  readonly subject: string;
  readonly validFrom: Date;
  readonly validTo: Date;
}

interface ChannelCredentialsClass {
  createSsl(rootCerts?: Buffer | null, privateKey?: Buffer | null, certChain?: Buffer | null): object;
}

interface RawHost {
  channelCredentials: { constructor: unknown };
  cachedServices: Record<string, { close(): void } | undefined>;
}

interface RawPool {
  options?: { credentials?: { rootCertificate?: Buffer; certChain?: Buffer; privateKey?: Buffer } };
  hosts?: RawHost[];
  authenticator?: { credentials?: object };
}

function rawPool(client: Namespace): RawPool | undefined {
  const pool = (client as unknown as { pool?: RawPool } | null)?.pool;
  return typeof pool === "object" && pool !== null ? pool : undefined;
}

/** What of the pool shape {@link renewClientCertificate} relies on is missing from `client`. */
export function renewalShapeProblems(client: Namespace): string[] {
  const pool = rawPool(client);
  if (pool === undefined) return ["client.pool (etcd3's connection pool) is missing"];
  const problems: string[] = [];
  if (typeof pool.options !== "object" || pool.options === null) problems.push("pool.options is missing");
  if (!Array.isArray(pool.hosts) || pool.hosts.length === 0) problems.push("pool.hosts is not a list");
  for (const host of pool.hosts ?? []) {
    const make = (host.channelCredentials?.constructor as Partial<ChannelCredentialsClass> | undefined)
      ?.createSsl;
    if (typeof make !== "function") problems.push("pool.hosts[i].channelCredentials is not grpc-js's");
    if (typeof host.cachedServices !== "object" || host.cachedServices === null)
      problems.push("pool.hosts[i].cachedServices is missing");
  }
  if (typeof pool.authenticator !== "object" || pool.authenticator === null)
    problems.push("pool.authenticator is missing");
  return [...new Set(problems)];
}

const parsed = new WeakMap<Buffer, ClientCertificateInfo | null>();

/** The certificate of an etcd3 connection pool's options (each PEM read once). */
export function certificateOfPool(pool: unknown): ClientCertificateInfo | undefined {
  const pem = (pool as RawPool | undefined)?.options?.credentials?.certChain;
  if (!Buffer.isBuffer(pem)) return undefined;
  let info = parsed.get(pem);
  if (info === undefined) {
    try {
      const cert = new X509Certificate(pem);
      info = {
        subject: cert.subject.replace(/\n/g, ", "),
        validFrom: new Date(cert.validFrom),
        validTo: new Date(cert.validTo),
      };
    } catch {
      info = null;
    }
    parsed.set(pem, info);
  }
  return info ?? undefined;
}

/**
 * The certificate an etcd3 client presents to etcd, or undefined when it presents none (or the PEM
 * cannot be read).
 */
export function clientCertificateOf(client: Namespace): ClientCertificateInfo | undefined {
  return certificateOfPool(rawPool(client));
}

/**
 * Gives a running etcd3 client a renewed client certificate (and, optionally, a new CA), without closing
 * it. Every connection opened from now on presents the new certificate; calls and streams already running
 * finish on the connection they have (TLS does not check a certificate again once the handshake is done),
 * and the next connection to a member that a fault or a restart takes down is made with the new one. The
 * watcher, registrar and resolver on the client keep running.
 *
 * Throws a `TypeError` when the client was created without TLS `credentials`, or the installed etcd3 does
 * not have the pool this relies on, and an `Error` when the certificate cannot be read.
 *
 * @example
 * ```ts
 * renewClientCertificate(client, {
 *   certChain: readFileSync("client.crt"),
 *   privateKey: readFileSync("client.key"),
 * });
 * ```
 */
export function renewClientCertificate(client: Namespace, credentials: TlsCredentials): void {
  const problems = renewalShapeProblems(client);
  if (problems.length > 0) {
    throw new TypeError(`cannot renew the client certificate of this etcd3 client: ${problems.join("; ")}`);
  }
  const pool = rawPool(client)!;
  const current = pool.options?.credentials;
  if (current === undefined) {
    throw new TypeError("cannot renew the client certificate of an etcd3 client created without credentials");
  }
  // Refuse a certificate that cannot be read before the client is touched.
  new X509Certificate(credentials.certChain);
  const rootCertificate = credentials.rootCertificate ?? current.rootCertificate;
  const hosts = pool.hosts!;
  // The class of the client's own credentials: its grpc-js, whichever copy of grpc-js etcd3 loaded.
  const grpcCredentials = hosts[0]!.channelCredentials.constructor as ChannelCredentialsClass;
  const renewed = grpcCredentials.createSsl(rootCertificate, credentials.privateKey, credentials.certChain);
  pool.options!.credentials = {
    ...current,
    ...(rootCertificate === undefined ? {} : { rootCertificate }),
    certChain: credentials.certChain,
    privateKey: credentials.privateKey,
  };
  pool.authenticator!.credentials = renewed;
  for (const host of hosts) {
    host.channelCredentials = renewed as RawHost["channelCredentials"];
    const services = host.cachedServices;
    host.cachedServices = Object.create(null) as RawHost["cachedServices"];
    // Closing a grpc-js client lets its running calls finish; only new calls need the new credentials.
    for (const service of Object.values(services)) service?.close();
  }
}
