// A multi-member cluster with TLS on its peer and client URLs, issued by a CA the test controls, so a test
// can give a client a certificate that lives seconds and rotate it (or the members') while etcd runs.
import { randomBytes } from "node:crypto";
import {
  type CertificateAuthority,
  createCertificateAuthority,
  type IssuedCertificate,
} from "./certificate-authority.js";
import { sweepOrphansOnce } from "./cleanup.js";
import { clusterSize, loopbackPlaces, startMembers } from "./cluster-members.js";
import { EtcdFixtureError } from "./errors.js";
import { type EtcdCluster, LocalEtcdCluster, type StartEtcdClusterOptions } from "./etcd-cluster.js";
import type { EtcdProcess } from "./etcd-process.js";
import { type EtcdServer, validateMemberName } from "./etcd-server.js";
import { resolveEtcd } from "./find-etcd.js";
import { resolveTls } from "./tls.js";

/** Options of {@link startTlsCluster}. */
export interface StartTlsClusterOptions extends Omit<StartEtcdClusterOptions, "tls"> {
  /** Require a client certificate signed by the cluster's CA (default true). Peers always require one. */
  clientCertAuth?: boolean;
  /** Lifetime of the members' certificate in milliseconds (default two days). */
  memberCertLifetimeMs?: number;
}

/** A cluster with TLS between its members and to its clients; see {@link startTlsCluster}. */
export interface TlsCluster extends EtcdCluster {
  /** The CA every certificate of the cluster comes from. */
  readonly ca: CertificateAuthority;
  /** The CA certificate a client trusts (also `ca.caFile`). */
  readonly caFile: string;
  /**
   * The certificate every member presents, to clients and to its peers (`member.crt` in `ca.dir`). etcd
   * reads the pair on every new handshake, so {@link rotateMemberCertificate} takes effect without a restart.
   */
  readonly memberCertificate: IssuedCertificate;
  /** Issues a client certificate; issuing again under the same name rotates it in place (same key file). */
  issueClientCertificate(name: string, options?: { lifetimeMs?: number }): Promise<IssuedCertificate>;
  /** Issues the members' certificate again, in place. */
  rotateMemberCertificate(options?: { lifetimeMs?: number }): Promise<IssuedCertificate>;
  /** Closes every member, then removes the CA directory. Idempotent. */
  close(): Promise<void>;
}

// The certificate the fixture's own health and status checks present: long-lived, so a test that lets its
// clients' certificates expire still has a fixture that can tell whether etcd is up.
const FIXTURE_CLIENT = "fixture-checks";
const MEMBER = "member";

class LocalTlsCluster extends LocalEtcdCluster implements TlsCluster {
  readonly ca: CertificateAuthority;
  readonly caFile: string;
  #member: IssuedCertificate;
  #closed: Promise<void> | undefined;

  constructor(members: EtcdServer[], version: string, ca: CertificateAuthority, member: IssuedCertificate) {
    super(members, version);
    this.ca = ca;
    this.caFile = ca.caFile;
    this.#member = member;
  }

  get memberCertificate(): IssuedCertificate {
    return this.#member;
  }

  issueClientCertificate(name: string, options: { lifetimeMs?: number } = {}): Promise<IssuedCertificate> {
    if (name === MEMBER || name === FIXTURE_CLIENT) {
      throw new EtcdFixtureError("INVALID_OPTIONS", `the certificate name ${name} is the fixture's own`);
    }
    return this.ca.issue(name, { usage: "client", ...options });
  }

  async rotateMemberCertificate(options: { lifetimeMs?: number } = {}): Promise<IssuedCertificate> {
    this.#member = await this.ca.issue(MEMBER, { usage: "server", ...options });
    return this.#member;
  }

  override close(): Promise<void> {
    this.#closed ??= super.close().finally(() => this.ca.close());
    return this.#closed;
  }
}

/**
 * Starts a `size`-member cluster (default 3) with TLS on the peer URLs (mutual: `--peer-client-cert-auth`)
 * and on the client URLs (mutual unless `clientCertAuth: false`), all from a fresh private CA. Clients get
 * their certificates from {@link TlsCluster.issueClientCertificate}, with a lifetime as short as a second.
 *
 * @example
 * ```ts
 * await using cluster = await startTlsCluster();
 * const cert = await cluster.issueClientCertificate("app", { lifetimeMs: 30_000 });
 * const client = new Etcd3({
 *   hosts: cluster.clientUrls,
 *   credentials: { rootCertificate: cluster.ca.ca, certChain: cert.cert, privateKey: cert.key },
 * });
 * ```
 */
export async function startTlsCluster(options: StartTlsClusterOptions = {}): Promise<TlsCluster> {
  const size = clusterSize(options);
  const etcd = resolveEtcd({ etcdBin: options.etcdBin, version: options.version });
  const prefix = validateMemberName(options.name ?? `etcd-${randomBytes(3).toString("hex")}`);
  const ca = await createCertificateAuthority();
  let members: EtcdProcess[];
  let member: IssuedCertificate;
  try {
    const lifetime =
      options.memberCertLifetimeMs === undefined ? {} : { lifetimeMs: options.memberCertLifetimeMs };
    member = await ca.issue(MEMBER, { usage: "server", ...lifetime });
    const checks = await ca.issue(FIXTURE_CLIENT, { usage: "client" });
    const clientCertAuth = options.clientCertAuth !== false;
    const tls = await resolveTls({
      caFile: ca.caFile,
      certFile: member.certFile,
      keyFile: member.keyFile,
      clientCertAuth,
      ...(clientCertAuth ? { clientCertFile: checks.certFile, clientKeyFile: checks.keyFile } : {}),
    });
    const peerTlsArgs = [
      `--peer-cert-file=${member.certFile}`,
      `--peer-key-file=${member.keyFile}`,
      `--peer-trusted-ca-file=${ca.caFile}`,
      "--peer-client-cert-auth=true",
    ];
    await sweepOrphansOnce();
    const places = await loopbackPlaces(size);
    members = await startMembers({ prefix, etcd, options, places, tls, peerTlsArgs });
  } catch (error) {
    await ca.close();
    throw error;
  }
  return new LocalTlsCluster(members, etcd.version, ca, member);
}
