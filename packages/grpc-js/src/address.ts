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

/**
 * {@link addressKey} of `address`, the parse of the registered text `addr`: that text itself when it is
 * already the key (the usual `host:port`, with no spaces and no leading zeros), which spares building
 * and hashing a new string per endpoint on large services.
 */
export function addressId(addr: string, address: SubchannelAddress): string {
  if ("host" in address) {
    const { host, port } = address;
    const digits = port < 10 ? 1 : port < 100 ? 2 : port < 1000 ? 3 : port < 10000 ? 4 : 5;
    if (
      addr.length === host.length + 1 + digits &&
      addr.charCodeAt(host.length) === 0x3a &&
      addr.startsWith(host) &&
      !host.includes(":")
    ) {
      return addr;
    }
  }
  return addressKey(address);
}
