import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { type EtcdServer, startTlsEtcd, type TestCertificates } from "@etcd-naming/etcd-fixture";
import { Etcd3, type IOptions } from "etcd3";

const run = promisify(execFile);

/** Options of {@link startSecureEtcd}. */
export interface SecureEtcdOptions {
  /** Require client certificates (`--client-cert-auth`). */
  mutual?: boolean;
  /** Create `root` and enable authentication. */
  auth?: boolean;
  /** `--auth-token-ttl` in seconds for simple tokens (etcd's default is 300). */
  tokenTtl?: number;
}

/** Which client certificate a client presents: a name from `certs.clients`, or none. */
export type CertChoice = "root" | "client" | false;

/** A TLS etcd with generated certificates and, optionally, auth with a `root` user. */
export interface SecureEtcd extends AsyncDisposable {
  readonly server: EtcdServer;
  readonly certs: TestCertificates;
  readonly endpoints: string[];
  /** `https://127.0.0.1:PORT`, what the CLI and etcdctl take. */
  readonly url: string;
  readonly rootPassword: string;
  /** The CLI's flags for this server: `--endpoints` and `--cacert`, then `--user` when given. */
  cliArgs(user?: string): string[];
  /** etcd3 `credentials` trusting the test CA, with the named client certificate. */
  credentials(cert?: CertChoice): NonNullable<IOptions["credentials"]>;
  /** An etcd3 client, closed by `close()`. */
  client(options?: { user?: string; password?: string; cert?: CertChoice } & Partial<IOptions>): Etcd3;
  /** Runs etcdctl against this server (as root once auth is on); resolves to its stdout. */
  etcdctl(args: string[]): Promise<string>;
  /** The documented least-privilege setup: a role with `permission` on `prefix`, and a user holding it. */
  addUser(
    user: string,
    password: string,
    grants: { permission: "read" | "readwrite"; prefix: string }[],
  ): Promise<void>;
  close(): Promise<void>;
}

/** A password that is easy to grep for in logs and errors. */
export function secretPassword(label: string): string {
  return `${label}-secret-${randomBytes(6).toString("hex")}`;
}

function etcdctlEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith("ETCD")) env[key] = value;
  }
  return { ...env, ETCDCTL_API: "3" };
}

/** Starts etcd with TLS on its client port (mutual TLS and auth on request). */
export async function startSecureEtcd(options: SecureEtcdOptions = {}): Promise<SecureEtcd> {
  const args =
    options.tokenTtl === undefined ? [] : ["--auth-token=simple", `--auth-token-ttl=${options.tokenTtl}`];
  const tls = await startTlsEtcd({
    clients: ["root", "client"],
    clientCertAuth: options.mutual === true,
    client: "root",
    args,
  });
  const { server, certs, url } = tls;
  const rootPassword = secretPassword("root");
  const clients: Etcd3[] = [];
  let authEnabled = false;

  const credentials = (cert: CertChoice = "client"): NonNullable<IOptions["credentials"]> => {
    if (cert === false) return { rootCertificate: certs.ca };
    const pair = certs.clients[cert]!;
    return { rootCertificate: certs.ca, certChain: pair.cert, privateKey: pair.key };
  };

  const etcdctl = async (extra: string[]): Promise<string> => {
    const root = certs.clients["root"]!;
    const flags = [
      `--endpoints=${url}`,
      `--cacert=${certs.caFile}`,
      `--cert=${root.certFile}`,
      `--key=${root.keyFile}`,
    ];
    if (authEnabled) flags.push(`--user=root:${rootPassword}`);
    const { stdout } = await run("etcdctl", [...flags, ...extra], { env: etcdctlEnv(), timeout: 10_000 });
    return stdout;
  };

  if (options.auth === true) {
    // The commands SECURITY.md and the READMEs document.
    await etcdctl(["user", "add", "root", `--new-user-password=${rootPassword}`]);
    await etcdctl(["role", "add", "root"]);
    await etcdctl(["user", "grant-role", "root", "root"]);
    await etcdctl(["auth", "enable"]);
    authEnabled = true;
  }

  const close = async (): Promise<void> => {
    for (const client of clients.splice(0)) {
      try {
        client.close();
      } catch {
        // Already closed by the test.
      }
    }
    await tls.close();
  };

  return {
    server,
    certs,
    endpoints: server.endpoints,
    url,
    rootPassword,
    cliArgs: (user) => [
      "--endpoints",
      url,
      "--cacert",
      certs.caFile,
      ...(user === undefined ? [] : ["--user", user]),
    ],
    credentials,
    client({ user, password, cert, ...rest } = {}) {
      const client = new Etcd3({
        hosts: server.endpoints,
        credentials: credentials(cert ?? (options.mutual === true ? "client" : false)),
        ...(user === undefined ? {} : { auth: { username: user, password: password ?? "" } }),
        ...rest,
      });
      clients.push(client);
      return client;
    },
    etcdctl,
    async addUser(user, password, grants) {
      await etcdctl(["role", "add", user]);
      for (const grant of grants) {
        await etcdctl(["role", "grant-permission", user, grant.permission, "--prefix=true", grant.prefix]);
      }
      await etcdctl(["user", "add", user, `--new-user-password=${password}`]);
      await etcdctl(["user", "grant-role", user, user]);
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
