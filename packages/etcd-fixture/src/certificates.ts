import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { EtcdFixtureError } from "./errors.js";

const run = promisify(execFile);

/** Options of {@link createTestCertificates}. */
export interface TestCertificatesOptions {
  /**
   * Common names of the client certificates to issue (default `["client"]`). With
   * `--client-cert-auth`, etcd takes the CN as the user name when a request carries no token.
   */
  clients?: string[];
  /** Days the certificates are valid (default 2). */
  days?: number;
  /** The openssl executable (default `openssl` on `$PATH`). */
  openssl?: string;
}

/** One issued certificate: PEM files on disk and their contents. */
export interface TestCertificate {
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** A private CA with a server certificate for loopback and client certificates; remove with `close()`. */
export interface TestCertificates extends AsyncDisposable {
  readonly dir: string;
  readonly caFile: string;
  readonly ca: Buffer;
  /** Valid for `127.0.0.1`, `::1` and `localhost`. */
  readonly server: TestCertificate;
  /** Keyed by common name. */
  readonly clients: Readonly<Record<string, TestCertificate>>;
  /** Removes the directory. Idempotent. */
  close(): Promise<void>;
}

const NAME_PATTERN = /^[A-Za-z0-9._-]+$/;

/** Throws `INVALID_OPTIONS` ("invalid <what> ...") unless `name` is a plain file and common name, none of `reserved`. */
export function checkCertificateName(name: string, what: string, reserved: readonly string[] = []): void {
  if (!NAME_PATTERN.test(name) || reserved.includes(name)) {
    throw new EtcdFixtureError("INVALID_OPTIONS", `invalid ${what} ${JSON.stringify(name)}`);
  }
}

/** Runs `bin args` in `cwd`; a failure rejects with `CERTIFICATES_FAILED` and openssl's stderr. */
export async function openssl(bin: string, args: string[], cwd: string): Promise<void> {
  try {
    await run(bin, args, { cwd });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? "";
    throw new EtcdFixtureError(
      "CERTIFICATES_FAILED",
      `openssl ${args[0]} failed: ${(error as Error).message}${stderr === "" ? "" : `\n${stderr}`}`,
      { cause: error },
    );
  }
}

/**
 * The `openssl req` arguments that make a new key `<name>.key`: EC keys keep generation fast on a small CI
 * machine; etcd 3.4 and Node accept P-256.
 */
export function newKeyArgs(name: string): string[] {
  return [
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    `${name}.key`,
  ];
}

/**
 * Generates a throw-away PKI with `openssl` in a fresh temporary directory: a CA, a server
 * certificate for loopback (SAN `IP:127.0.0.1, IP:::1, DNS:localhost`) and one client certificate
 * per common name. Nothing is ever committed; every test run makes its own.
 *
 * @example
 * ```ts
 * await using certs = await createTestCertificates({ clients: ["root"] });
 * await using etcd = await startEtcd({ tls: tlsFromCertificates(certs, { clientCertAuth: true }) });
 * ```
 */
export async function createTestCertificates(
  options: TestCertificatesOptions = {},
): Promise<TestCertificates> {
  const bin = options.openssl ?? "openssl";
  const days = String(options.days ?? 2);
  const names = options.clients ?? ["client"];
  for (const name of names) checkCertificateName(name, "client certificate name", ["ca", "server"]);
  const dir = await mkdtemp(join(tmpdir(), "etcd-naming-certs-"));
  const close = (): Promise<void> => rm(dir, { recursive: true, force: true });
  try {
    await openssl(
      bin,
      [...newKeyArgs("ca"), "-x509", "-days", days, "-subj", "/CN=etcd-naming test CA", "-out", "ca.crt"],
      dir,
    );
    const issue = async (name: string, cn: string, extensions: string): Promise<TestCertificate> => {
      await writeFile(join(dir, `${name}.ext`), extensions);
      await openssl(bin, [...newKeyArgs(name), "-subj", `/CN=${cn}`, "-out", `${name}.csr`], dir);
      await openssl(
        bin,
        [
          "x509",
          "-req",
          "-in",
          `${name}.csr`,
          "-CA",
          "ca.crt",
          "-CAkey",
          "ca.key",
          "-CAcreateserial",
          "-days",
          days,
          "-extfile",
          `${name}.ext`,
          "-out",
          `${name}.crt`,
        ],
        dir,
      );
      const certFile = join(dir, `${name}.crt`);
      const keyFile = join(dir, `${name}.key`);
      return { certFile, keyFile, cert: await readFile(certFile), key: await readFile(keyFile) };
    };
    const server = await issue(
      "server",
      "localhost",
      "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n",
    );
    const clients: Record<string, TestCertificate> = Object.create(null);
    for (const name of names) {
      clients[name] = await issue(`client-${name}`, name, "extendedKeyUsage=clientAuth\n");
    }
    const caFile = join(dir, "ca.crt");
    return Object.freeze({
      dir,
      caFile,
      ca: await readFile(caFile),
      server,
      clients: Object.freeze(clients),
      close,
      [Symbol.asyncDispose]: close,
    });
  } catch (error) {
    await close();
    throw error;
  }
}
