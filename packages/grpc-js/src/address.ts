import { isIP } from "node:net";

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

// Host names are checked loosely (letters, digits, dots, dashes, underscores) so a typo such as a stray
// space or a scheme prefix is caught here rather than as an obscure connect error later.
const HOST_NAME = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$/;
const PORT = /^\d{1,5}$/;

function parsePort(text: string): number | null {
  if (!PORT.test(text)) return null;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : null;
}

function isHost(host: string): boolean {
  return isIP(host) !== 0 || HOST_NAME.test(host);
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
 * the value cannot be dialled; callers skip such endpoints with a warning.
 */
export function parseAddress(addr: string): SubchannelAddress | null {
  const text = addr.trim();
  if (text.length === 0) return null;
  if (text.startsWith("unix:")) return parseUnix(text);

  if (text.startsWith("[")) {
    const end = text.indexOf("]");
    if (end === -1) return null;
    const host = text.slice(1, end);
    if (isIP(host) !== 6) return null;
    const rest = text.slice(end + 1);
    if (rest.length === 0) return { host, port: DEFAULT_PORT };
    if (!rest.startsWith(":")) return null;
    const port = parsePort(rest.slice(1));
    return port === null ? null : { host, port };
  }

  const firstColon = text.indexOf(":");
  if (firstColon === -1) return isHost(text) ? { host: text, port: DEFAULT_PORT } : null;
  // More than one colon without brackets can only be an IPv6 literal with no port.
  if (text.indexOf(":", firstColon + 1) !== -1) {
    return isIP(text) === 6 ? { host: text, port: DEFAULT_PORT } : null;
  }
  const host = text.slice(0, firstColon);
  const port = parsePort(text.slice(firstColon + 1));
  if (port === null || !isHost(host)) return null;
  return { host, port };
}

/** A stable text form of an address, used to drop duplicates. */
export function addressKey(address: SubchannelAddress): string {
  if ("path" in address) return `unix:${address.path}`;
  return isIP(address.host) === 6 ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
