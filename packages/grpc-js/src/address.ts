import { ipVersion, type SubchannelAddress } from "@etcd-naming/codec";

// The address grammar is the codec's (one grammar, shared with the CLI's check before it writes one);
// re-exported here because it has been part of this package's API.
export type { SubchannelAddress, TcpAddress, UnixAddress } from "@etcd-naming/codec";
export { DEFAULT_PORT, parseAddress } from "@etcd-naming/codec";

/** A stable text form of an address, used to drop duplicates. */
export function addressKey(address: SubchannelAddress): string {
  if ("path" in address) return `unix:${address.path}`;
  // Every IPv6 literal has a colon: a host without one needs no look at the grammar.
  return address.host.includes(":") && ipVersion(address.host) === 6
    ? `[${address.host}]:${address.port}`
    : `${address.host}:${address.port}`;
}
