/** A TCP address, as grpc-js's subchannels take it. */
export interface TcpAddress {
  host: string;
  port: number;
}

/** A Unix domain socket, as grpc-js's subchannels take it. */
export interface UnixAddress {
  path: string;
}

/** One address a registered endpoint can be reached at. */
export type SubchannelAddress = TcpAddress | UnixAddress;

/** The port grpc-js's DNS resolver assumes when a target names no port; registered addresses follow it. */
export const DEFAULT_PORT = 443;

// The IP literal grammar of Node's `net.isIP` (kept here so the codec needs no Node module); the codec's
// tests check it against `net.isIP` itself.
const V4_SEG = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])";
const V4 = `(?:${V4_SEG}\\.){3}${V4_SEG}`;
const V6_SEG = "(?:[0-9a-fA-F]{1,4})";
const IPV4 = new RegExp(`^${V4}$`);
const IPV6 = new RegExp(
  "^(?:" +
    `(?:${V6_SEG}:){7}(?:${V6_SEG}|:)|` +
    `(?:${V6_SEG}:){6}(?:${V4}|:${V6_SEG}|:)|` +
    `(?:${V6_SEG}:){5}(?::${V4}|(?::${V6_SEG}){1,2}|:)|` +
    `(?:${V6_SEG}:){4}(?:(?::${V6_SEG}){0,1}:${V4}|(?::${V6_SEG}){1,3}|:)|` +
    `(?:${V6_SEG}:){3}(?:(?::${V6_SEG}){0,2}:${V4}|(?::${V6_SEG}){1,4}|:)|` +
    `(?:${V6_SEG}:){2}(?:(?::${V6_SEG}){0,3}:${V4}|(?::${V6_SEG}){1,5}|:)|` +
    `(?:${V6_SEG}:){1}(?:(?::${V6_SEG}){0,4}:${V4}|(?::${V6_SEG}){1,6}|:)|` +
    `(?::(?:(?::${V6_SEG}){0,5}:${V4}|(?::${V6_SEG}){1,7}|:))` +
    ")(?:%[0-9a-zA-Z-.:]{1,})?$",
);

/** 4 for an IPv4 literal, 6 for an IPv6 literal (a zone such as `%eth0` allowed), 0 otherwise: `net.isIP`. */
export function ipVersion(text: string): 0 | 4 | 6 {
  if (IPV4.test(text)) return 4;
  if (IPV6.test(text)) return 6;
  return 0;
}

// Host names are checked loosely (letters, digits, dots, dashes, underscores) so a typo such as a stray
// space or a scheme prefix is caught here rather than as an obscure connect error later.
const HOST_NAME = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$/;

/** The port written from `from` to the end of `text`: 1 to 5 ASCII digits, 1..65535; null otherwise. */
function parsePort(text: string, from: number): number | null {
  const length = text.length - from;
  if (length < 1 || length > 5) return null;
  let port = 0;
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return null;
    port = port * 10 + (c - 0x30);
  }
  return port >= 1 && port <= 65535 ? port : null;
}

function isHost(host: string): boolean {
  // The host-name pattern is the cheaper test and covers IPv4 literals too; the IP grammar decides the rest.
  return HOST_NAME.test(host) || ipVersion(host) !== 0;
}

function parseUnix(addr: string): UnixAddress | null {
  let path: string;
  if (addr.startsWith("unix://")) {
    // Only the empty authority is meaningful: `unix:///abs/path`.
    if (!addr.startsWith("unix:///")) return null;
    path = addr.slice("unix://".length);
  } else {
    path = addr.slice("unix:".length);
  }
  return path.length > 0 ? { path } : null;
}

/**
 * Parses a registered `Addr` the way grpc-go dials it: `host:port`, `[v6]:port`, a bare host or IPv6
 * literal (port 443, like grpc-js's DNS resolver), or `unix:/path` / `unix:///path`. Returns `null` when
 * the value cannot be dialled: the `etcd:` resolver skips such endpoints with a warning, and the CLI warns
 * before it writes one. The one address grammar of the project.
 *
 * @example
 * parseAddress("10.0.0.1:50051"); // { host: "10.0.0.1", port: 50051 }
 * parseAddress("10.0.0.1:99999"); // null
 */
export function parseAddress(addr: string): SubchannelAddress | null {
  if (typeof addr !== "string") return null;
  const text = addr.trim();
  if (text.length === 0) return null;
  if (text.startsWith("unix:")) return parseUnix(text);

  if (text.startsWith("[")) {
    const end = text.indexOf("]");
    if (end === -1) return null;
    const host = text.slice(1, end);
    if (ipVersion(host) !== 6) return null;
    if (end + 1 === text.length) return { host, port: DEFAULT_PORT };
    if (text.charCodeAt(end + 1) !== 0x3a) return null;
    const port = parsePort(text, end + 2);
    return port === null ? null : { host, port };
  }

  const firstColon = text.indexOf(":");
  if (firstColon === -1) return isHost(text) ? { host: text, port: DEFAULT_PORT } : null;
  // More than one colon without brackets can only be an IPv6 literal with no port.
  if (text.indexOf(":", firstColon + 1) !== -1) {
    return ipVersion(text) === 6 ? { host: text, port: DEFAULT_PORT } : null;
  }
  const host = text.slice(0, firstColon);
  const port = parsePort(text, firstColon + 1);
  if (port === null || !isHost(host)) return null;
  return { host, port };
}
