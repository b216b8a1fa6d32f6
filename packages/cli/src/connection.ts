import { closeSync, constants, fstatSync, openSync, readSync, type Stats, statSync } from "node:fs";
import { rootCertificates } from "node:tls";
import {
  Etcd3,
  EtcdAuthenticationFailedError,
  EtcdPermissionDeniedError,
  GRPCDeadlineExceededError,
  GRPCUnavailableError,
  type IOptions,
} from "etcd3";
import { CliError, usageError } from "./cli-error.js";
import { parseDuration } from "./duration.js";
import { tlsFailureError } from "./tls-failure.js";
import { omitIpServerName, skipTlsVerify } from "./tls-server-name.js";

/** The connection flags, exactly as commander hands them over (all optional strings). */
export interface ConnectionFlags {
  endpoints?: string;
  cacert?: string;
  cert?: string;
  key?: string;
  user?: string;
  password?: string;
  dialTimeout?: string;
  commandTimeout?: string;
  insecureTransport?: boolean;
  insecureSkipTlsVerify?: boolean;
}

/** Connection settings after flags, environment and defaults were merged and checked. */
export interface ConnectionSettings {
  endpoints: string[];
  /** Where the endpoints came from, for error messages. */
  endpointsSource: "flag" | "ETCD_ENDPOINTS" | "ETCDCTL_ENDPOINTS" | "default";
  /** TLS is used: an https:// endpoint or any of the TLS files. */
  secure: boolean;
  tls: { cacert?: string; cert?: string; key?: string };
  user?: { name: string; password?: string };
  dialTimeoutMs: number;
  commandTimeoutMs: number;
  /** `--insecure-transport`: plaintext chosen on purpose (no TLS, no plaintext-password warning). */
  insecureTransport?: boolean;
  /** `--insecure-skip-tls-verify`: TLS without checking etcd's certificate. */
  skipTlsVerify?: boolean;
}

export const DEFAULT_ENDPOINT = "127.0.0.1:2379";
export const DEFAULT_DIAL_TIMEOUT = "2s";
export const DEFAULT_COMMAND_TIMEOUT = "5s";

type Env = Record<string, string | undefined>;

const nonEmpty = (value: string | undefined): string | undefined =>
  value === undefined || value.trim() === "" ? undefined : value;

/**
 * An endpoint as it may be shown: whatever precedes the last "@" (user and password) is replaced by "***",
 * so no error path ever prints a secret written into an endpoint URL.
 */
export function redactEndpoint(endpoint: string): string {
  return endpoint.includes("@")
    ? endpoint.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)?.*@/s, "$1***@")
    : endpoint;
}

/**
 * Checks one endpoint, `host[:port]` or `http(s)://host[:port]` with at most a trailing "/" (etcdctl
 * accepts `http://127.0.0.1:2379/`), and returns it without that slash: etcd3 hands it to grpc-js as a
 * target, which cannot parse it. A missing host or a port out of range is refused here, before Node's dns
 * or net module sees it (and prints a deprecation warning or fails deep inside grpc-js).
 */
export function parseEndpoint(endpoint: string, where: string): string {
  const invalid = (reason: string): CliError =>
    usageError(`invalid endpoint "${redactEndpoint(endpoint)}" in ${where}: ${reason}`);
  if (endpoint.includes("@")) {
    throw invalid("credentials do not go in an endpoint; pass --user <name> and set ETCD_PASSWORD");
  }
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(endpoint);
  if (scheme !== null && !/^https?$/i.test(scheme[1] ?? "")) {
    throw invalid("expected host:port or http(s)://host:port");
  }
  const prefix = scheme === null ? "" : `${(scheme[1] ?? "").toLowerCase()}://`;
  const rest = endpoint.slice(scheme?.[0].length ?? 0).replace(/\/$/, "");
  if (rest.includes("/") || /\s/.test(rest)) throw invalid("expected host:port or http(s)://host:port");
  const hostPort = /^(\[[^\]]*\]|[^:[\]]*)(?::([^:]*))?$/.exec(rest);
  if (hostPort === null) throw invalid("expected host:port or http(s)://host:port (IPv6 in brackets)");
  const [, host = "", port] = hostPort;
  if (host === "" || host === "[]") throw invalid("no host: expected host:port or http(s)://host:port");
  if (port !== undefined && !(/^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535)) {
    throw invalid("the port must be a number from 1 to 65535");
  }
  return `${prefix}${rest}`;
}

/**
 * Merges flags, environment (etcdctl's names too) and defaults. Throws a usage error for malformed values;
 * never reads files or touches the network.
 */
export function resolveConnection(flags: ConnectionFlags, env: Env): ConnectionSettings {
  let endpointsSource: ConnectionSettings["endpointsSource"] = "default";
  let rawEndpoints = DEFAULT_ENDPOINT;
  if (flags.endpoints !== undefined) {
    endpointsSource = "flag";
    rawEndpoints = flags.endpoints;
  } else if (nonEmpty(env["ETCD_ENDPOINTS"]) !== undefined) {
    endpointsSource = "ETCD_ENDPOINTS";
    rawEndpoints = env["ETCD_ENDPOINTS"] as string;
  } else if (nonEmpty(env["ETCDCTL_ENDPOINTS"]) !== undefined) {
    endpointsSource = "ETCDCTL_ENDPOINTS";
    rawEndpoints = env["ETCDCTL_ENDPOINTS"] as string;
  }
  const where = endpointsSource === "flag" ? "--endpoints" : endpointsSource;
  const endpoints = rawEndpoints
    .split(",")
    .map((e) => e.trim())
    .filter((e) => e !== "");
  if (endpoints.length === 0) throw usageError(`${where} is empty: expected host:port[,host:port...]`);
  for (const [i, endpoint] of endpoints.entries()) endpoints[i] = parseEndpoint(endpoint, where);
  const https = endpoints.filter((e) => e.startsWith("https://")).length;
  if (https > 0 && https < endpoints.length) {
    throw usageError(`${where} mixes https:// and plaintext endpoints; use one or the other`);
  }

  const plain = flags.insecureTransport === true;
  if (plain && https > 0) throw usageError(`--insecure-transport refuses the https:// endpoints of ${where}`);
  if (plain && (flags.cacert ?? flags.cert ?? flags.key) !== undefined) {
    throw usageError("--insecure-transport contradicts --cacert, --cert and --key");
  }
  if (plain && flags.insecureSkipTlsVerify === true) {
    throw usageError("--insecure-transport contradicts --insecure-skip-tls-verify");
  }
  const tls: ConnectionSettings["tls"] = {};
  const cacert = plain ? undefined : (flags.cacert ?? nonEmpty(env["ETCDCTL_CACERT"]));
  const cert = plain ? undefined : (flags.cert ?? nonEmpty(env["ETCDCTL_CERT"]));
  const key = plain ? undefined : (flags.key ?? nonEmpty(env["ETCDCTL_KEY"]));
  if (cacert !== undefined) tls.cacert = cacert;
  if (cert !== undefined) tls.cert = cert;
  if (key !== undefined) tls.key = key;
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    const named = (flag: string, name: string, value: string | undefined): string =>
      value === undefined ? flag : flags[flag.slice(2) as "cert" | "key"] !== undefined ? flag : name;
    throw usageError(
      `${named("--cert", "ETCDCTL_CERT", tls.cert)} and ${named("--key", "ETCDCTL_KEY", tls.key)} go together: pass both or neither`,
    );
  }
  const skipTlsVerify = flags.insecureSkipTlsVerify === true;

  const settings: ConnectionSettings = {
    endpoints,
    endpointsSource,
    secure: https > 0 || Object.keys(tls).length > 0 || skipTlsVerify,
    tls,
    dialTimeoutMs: timeout(
      flags.dialTimeout,
      "--dial-timeout",
      "ETCDCTL_DIAL_TIMEOUT",
      DEFAULT_DIAL_TIMEOUT,
      env,
    ),
    commandTimeoutMs: timeout(
      flags.commandTimeout,
      "--command-timeout",
      "ETCDCTL_COMMAND_TIMEOUT",
      DEFAULT_COMMAND_TIMEOUT,
      env,
    ),
  };
  if (plain) settings.insecureTransport = true;
  if (skipTlsVerify) settings.skipTlsVerify = true;

  const user = flags.user ?? nonEmpty(env["ETCDCTL_USER"]);
  const userWhere = flags.user !== undefined ? "--user" : "ETCDCTL_USER";
  if (user === undefined && flags.password !== undefined) throw usageError("--password needs --user NAME");
  if (user !== undefined) {
    const colon = user.indexOf(":");
    const name = colon === -1 ? user : user.slice(0, colon);
    // The value may hold a password: never echo it back, not even in this message.
    if (name === "") throw usageError(`invalid ${userWhere}: expected name or name:password`);
    if (colon !== -1 && flags.password !== undefined) {
      throw usageError(`pass the password either in ${userWhere} name:password or in --password, not both`);
    }
    const password =
      colon !== -1
        ? user.slice(colon + 1)
        : (flags.password ?? nonEmpty(env["ETCD_PASSWORD"]) ?? env["ETCDCTL_PASSWORD"]);
    settings.user = password === undefined ? { name } : { name, password };
  }
  return settings;
}

/** A duration from its flag, else its environment variable (named in the error), else the default. */
function timeout(
  flag: string | undefined,
  name: string,
  variable: string,
  fallback: string,
  env: Env,
): number {
  if (flag !== undefined) return parseDuration(name, flag);
  const value = nonEmpty(env[variable]);
  return parseDuration(value === undefined ? name : variable, value ?? fallback);
}

/** The largest file the CLI reads (a CA bundle, a certificate, a key): far above any real PEM file. */
export const MAX_FILE_BYTES: number = 4 * 1024 * 1024;

function fileKind(stats: Stats): string {
  if (stats.isDirectory()) return "a directory";
  if (stats.isFIFO()) return "a FIFO";
  if (stats.isCharacterDevice()) return "a character device";
  if (stats.isBlockDevice()) return "a block device";
  if (stats.isSocket()) return "a socket";
  return "not a file";
}

/**
 * Reads a file named on the command line: only a regular file (never a device such as /dev/zero, which
 * never ends, or a FIFO, whose open waits for a writer), of at most {@link MAX_FILE_BYTES}. It is opened
 * non-blocking and checked again once open, so a file swapped in between is caught too.
 */
export function readInputFile(flag: string, path: string): Buffer {
  const refuse = (reason: string, cause?: unknown): CliError =>
    usageError(`cannot read ${flag} file "${path}": ${reason}`, cause === undefined ? undefined : { cause });
  let fd: number | undefined;
  try {
    const before = statSync(path);
    if (!before.isFile()) throw refuse(`not a regular file (${fileKind(before)})`);
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw refuse(`not a regular file (${fileKind(stats)})`);
    if (stats.size > MAX_FILE_BYTES) throw refuse("larger than 4 MiB");
    // Read to the end rather than trust the size fstat reported (a file may grow; /proc reports 0).
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.alloc(64 * 1024);
      const read = readSync(fd, chunk, 0, chunk.length, null);
      if (read === 0) break;
      total += read;
      if (total > MAX_FILE_BYTES) throw refuse("larger than 4 MiB");
      chunks.push(chunk.subarray(0, read));
    }
    return Buffer.concat(chunks, total);
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw refuse((error as NodeJS.ErrnoException).code ?? (error as Error).message, error);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The etcd3 client options for settings whose password (if any) is already known. */
export function clientOptions(settings: ConnectionSettings): IOptions {
  const options: IOptions = {
    hosts: settings.endpoints,
    dialTimeout: settings.dialTimeoutMs,
    // Streams (watch, keep-alive) live as long as the command; unary calls get the command timeout.
    defaultCallOptions: (context) =>
      context.isStream ? {} : { deadline: Date.now() + settings.commandTimeoutMs },
  };
  const { cacert, cert, key } = settings.tls;
  if (cacert !== undefined || cert !== undefined || settings.skipTlsVerify === true) {
    options.credentials = {
      // Without --cacert, trust the same roots Node trusts.
      rootCertificate:
        cacert !== undefined ? readInputFile("--cacert", cacert) : Buffer.from(rootCertificates.join("\n")),
    };
    if (cert !== undefined && key !== undefined) {
      options.credentials.certChain = readInputFile("--cert", cert);
      options.credentials.privateKey = readInputFile("--key", key);
    }
  }
  if (settings.user?.password !== undefined) {
    options.auth = { username: settings.user.name, password: settings.user.password };
  }
  return options;
}

function firstLine(text: string): string {
  return text.split("\n")[0] ?? text;
}

/**
 * gRPC's connection errors read "14 UNAVAILABLE: No connection established. Last error: Error: connect
 * ECONNREFUSED 127.0.0.1:1. Resolution note: "; the socket error inside is what an operator needs.
 */
function connectionReason(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  const message = firstLine(cause.message);
  const last = /Last error: (?:Error: )?(.+?)\.?(?: Resolution note:.*)?$/.exec(message)?.[1];
  if (last !== undefined && last !== "null" && last !== "undefined") return last;
  return message.replace(/\.? Last error: .*$/, "").replace(/\.? Resolution note:.*$/, "");
}

/** The one-line "cannot reach etcd" error with the endpoints tried and what to do about it. */
export function unreachableError(settings: ConnectionSettings, cause: unknown): CliError {
  const tls = tlsFailureError(settings, cause);
  if (tls !== undefined) return tls;
  const source =
    settings.endpointsSource === "flag"
      ? ""
      : settings.endpointsSource === "default"
        ? ", the default"
        : ` from ${settings.endpointsSource}`;
  const reason = connectionReason(cause);
  return new CliError(
    "UNREACHABLE",
    `cannot reach etcd at ${settings.endpoints.join(",")} (tried ${settings.endpoints.join(", ")}${source}): ${reason}. ` +
      "Is etcd running? Pass --endpoints or set ETCD_ENDPOINTS.",
    { cause },
  );
}

function isConnectivityError(error: unknown): boolean {
  if (error instanceof GRPCUnavailableError || error instanceof GRPCDeadlineExceededError) return true;
  // cockatiel's open circuit: every host failed recently.
  return error instanceof Error && error.name === "BrokenCircuitError";
}

// etcd's ErrUserEmpty: authentication is enabled and the request carried no user.
const USER_EMPTY = "etcdserver: user name is empty";

function isUserEmpty(error: unknown): boolean {
  return error instanceof Error && error.message.includes(USER_EMPTY);
}

function userRequiredError(settings: ConnectionSettings, cause: unknown): CliError {
  return new CliError(
    "AUTH",
    `etcd at ${settings.endpoints.join(",")} has authentication enabled and needs a user: ` +
      "pass --user NAME (or set ETCDCTL_USER) with the password in ETCD_PASSWORD",
    { cause },
  );
}

/** Turns whatever etcd3 threw into a CliError with a message an operator can act on. */
export function describeEtcdError(settings: ConnectionSettings, error: unknown): CliError {
  if (error instanceof CliError) return error;
  if (isConnectivityError(error)) return unreachableError(settings, error);
  if (isUserEmpty(error)) return userRequiredError(settings, error);
  if (error instanceof EtcdAuthenticationFailedError) {
    return new CliError(
      "AUTH",
      `etcd rejected the credentials of user "${settings.user?.name ?? ""}": ${firstLine(error.message)}`,
      { cause: error },
    );
  }
  // The packages below name the key and the permission; etcd3's own error names neither.
  const code = (error as { code?: unknown } | null)?.code;
  if (error instanceof EtcdPermissionDeniedError || code === "PERMISSION_DENIED") {
    const who = settings.user === undefined ? "this client" : `user "${settings.user.name}"`;
    const detail =
      error instanceof EtcdPermissionDeniedError ? "" : `: ${firstLine((error as Error).message)}`;
    return new CliError("PERMISSION_DENIED", `etcd denied ${who} the request${detail}`, { cause: error });
  }
  const message = error instanceof Error ? firstLine(error.message) : String(error);
  // etcd3's error classes are all named Etcd…/GRPC…; anything else is a fault of this program.
  if (error instanceof Error && /^(Etcd|GRPC)/.test(error.constructor.name)) {
    return new CliError("ETCD", `etcd request failed: ${message}`, { cause: error });
  }
  return new CliError("INTERNAL", `unexpected failure: ${message}`, { cause: error });
}

/**
 * Opens a client and proves etcd answers (a Status call, plus authentication when a user is set) within
 * the dial timeout. etcd3 accepts a `dialTimeout` but does not enforce it, hence the explicit deadline.
 *
 * With authentication enabled, etcd 3.4.42+, 3.5.28+ and 3.6.9+ serve Status to the root role only: a
 * least-privilege user's probe is refused with "permission denied" by an etcd that is there and has
 * accepted the login, so that refusal counts as an answer and the command goes on to say what it needed.
 */
export async function openClient(settings: ConnectionSettings): Promise<Etcd3> {
  // grpc-js sends an IP endpoint's address as the TLS server name, which Node 26 refuses outright.
  if (settings.secure) omitIpServerName();
  skipTlsVerify(settings.skipTlsVerify === true);
  const client = new Etcd3(clientOptions(settings));
  const deadline = Date.now() + settings.dialTimeoutMs;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${settings.dialTimeoutMs} ms`)),
      settings.dialTimeoutMs + 250,
    );
  });
  try {
    await Promise.race([client.maintenance.status({ deadline }), timeout]);
    return client;
  } catch (error) {
    if (error instanceof EtcdPermissionDeniedError) return client;
    client.close();
    // Whatever answered the probe wrongly (nothing, a proxy, an HTTP server) is not a usable etcd, except
    // for a refused or missing login, which deserves its own message.
    if (error instanceof EtcdAuthenticationFailedError || isUserEmpty(error)) {
      throw describeEtcdError(settings, error);
    }
    throw unreachableError(settings, error);
  } finally {
    clearTimeout(timer);
  }
}
