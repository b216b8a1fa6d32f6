// A private CA that issues certificates with a lifetime in seconds (`openssl ca -startdate/-enddate`, which
// openssl 3.0 has; its `x509 -req` only takes whole days) and issues them again under the same name, so a
// test can let a certificate expire or rotate it while etcd and the clients run.
import { X509Certificate } from "node:crypto";
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  checkCertificateName,
  newKeyArgs,
  openssl as runOpenssl,
  type TestCertificate,
} from "./certificates.js";
import { EtcdFixtureError } from "./errors.js";

/** What a certificate is for: `server` also carries `clientAuth`, so a member presents it to its peers. */
export type CertificateUsage = "server" | "client";

/** Options of {@link CertificateAuthority.issue}. */
export interface IssueOptions {
  usage: CertificateUsage;
  /** Subject common name (default: the name). */
  commonName?: string;
  /** How long the certificate is valid from now, in milliseconds (default two days; at least 1 s). */
  lifetimeMs?: number;
}

/** A certificate the CA issued: its files, contents and the instant it expires. */
export interface IssuedCertificate extends TestCertificate {
  readonly name: string;
  readonly notAfter: Date;
}

/** A private CA in a temporary directory; remove it with `close()`. */
export interface CertificateAuthority extends AsyncDisposable {
  readonly dir: string;
  readonly caFile: string;
  readonly ca: Buffer;
  /**
   * Issues a certificate into `<dir>/<name>.crt` with the key `<dir>/<name>.key`. Issuing again under a
   * name keeps its key and replaces the certificate file in one rename, so a process that reads the pair
   * on every handshake (etcd does) never sees a half-written certificate.
   */
  issue(name: string, options: IssueOptions): Promise<IssuedCertificate>;
  /** Removes the directory. Idempotent. */
  close(): Promise<void>;
}

/** Options of {@link createCertificateAuthority}. */
export interface CertificateAuthorityOptions {
  /** The openssl executable (default `openssl` on `$PATH`). */
  openssl?: string;
}

const DEFAULT_LIFETIME_MS = 2 * 24 * 3600_000;
// Certificates start a minute in the past: a certificate that is not yet valid fails like an expired one.
const BACKDATE_MS = 60_000;

const CONFIG = `[ca]
default_ca = fixture
[fixture]
dir = .
database = index.txt
new_certs_dir = issued
serial = serial
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[any]
commonName = supplied
[server]
subjectAltName = IP:127.0.0.1,IP:::1,DNS:localhost
extendedKeyUsage = serverAuth,clientAuth
[client]
extendedKeyUsage = clientAuth
`;

/** `YYMMDDHHMMSSZ`, the form `openssl ca -startdate/-enddate` takes. */
function opensslTime(ms: number): string {
  return `${new Date(ms).toISOString().replace(/[-:T]/g, "").slice(2, 14)}Z`;
}

/**
 * Creates a CA (EC P-256, valid two days) in a fresh temporary directory.
 *
 * @example
 * ```ts
 * await using ca = await createCertificateAuthority();
 * const client = await ca.issue("client", { usage: "client", lifetimeMs: 20_000 });
 * await ca.issue("client", { usage: "client", lifetimeMs: 60_000 }); // rotated in place
 * ```
 */
export async function createCertificateAuthority(
  options: CertificateAuthorityOptions = {},
): Promise<CertificateAuthority> {
  const bin = options.openssl ?? "openssl";
  const dir = await mkdtemp(join(tmpdir(), "etcd-naming-ca-"));
  const close = (): Promise<void> => rm(dir, { recursive: true, force: true });
  const openssl = (args: string[]): Promise<void> => runOpenssl(bin, args, dir);
  try {
    await writeFile(join(dir, "ca.cnf"), CONFIG);
    await writeFile(join(dir, "index.txt"), "");
    await writeFile(join(dir, "serial"), "1000\n");
    await mkdir(join(dir, "issued"));
    await openssl([
      ...newKeyArgs("ca"),
      "-x509",
      "-days",
      "2",
      "-subj",
      "/CN=etcd-naming short-lived test CA",
      "-out",
      "ca.crt",
    ]);
  } catch (error) {
    await close();
    throw error;
  }
  const keys = new Set<string>();
  // openssl ca keeps its serial and database in files: one issue at a time.
  let queue: Promise<unknown> = Promise.resolve();
  const issueNow = async (name: string, issue: IssueOptions): Promise<IssuedCertificate> => {
    checkCertificateName(name, "certificate name", ["ca"]);
    const lifetimeMs = issue.lifetimeMs ?? DEFAULT_LIFETIME_MS;
    if (!(lifetimeMs >= 1000)) {
      throw new EtcdFixtureError("INVALID_OPTIONS", `lifetimeMs must be at least 1000, got ${lifetimeMs}`);
    }
    const cn = issue.commonName ?? name;
    checkCertificateName(cn, "common name");
    const keyArgs = keys.has(name) ? ["req", "-new", "-key", `${name}.key`] : newKeyArgs(name);
    await openssl([...keyArgs, "-subj", `/CN=${cn}`, "-out", `${name}.csr`]);
    keys.add(name);
    const now = Date.now();
    await openssl([
      "ca",
      "-batch",
      "-config",
      "ca.cnf",
      "-cert",
      "ca.crt",
      "-keyfile",
      "ca.key",
      "-in",
      `${name}.csr`,
      "-out",
      `${name}.crt.new`,
      "-startdate",
      opensslTime(now - BACKDATE_MS),
      // Rounded up to the second: the certificate never expires before the lifetime asked for.
      "-enddate",
      opensslTime(now + lifetimeMs + 999),
      "-extensions",
      issue.usage,
      "-notext",
    ]);
    const certFile = join(dir, `${name}.crt`);
    await rename(`${certFile}.new`, certFile);
    const keyFile = join(dir, `${name}.key`);
    const cert = await readFile(certFile);
    const notAfter = new Date(new X509Certificate(cert).validTo);
    return { name, certFile, keyFile, cert, key: await readFile(keyFile), notAfter };
  };
  const caFile = join(dir, "ca.crt");
  return Object.freeze({
    dir,
    caFile,
    ca: await readFile(caFile),
    issue(name: string, issue: IssueOptions): Promise<IssuedCertificate> {
      const next = queue.then(() => issueNow(name, issue));
      queue = next.catch(() => {});
      return next;
    },
    close,
    [Symbol.asyncDispose]: close,
  });
}
