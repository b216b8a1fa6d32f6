// Network namespaces for a partitionable cluster: a "hub" namespace holds a bridge that joins the
// members' peer links, and each member lives in a namespace of its own with two veth links, one into the
// hub bridge (peer traffic, 10.200.0.0/24, private to these namespaces) and a point-to-point /30 to the
// root namespace (client traffic), so the test process reaches every member directly while cutting a
// member from its peers is one `ip link set ... down` on its hub-side link.
import { execFile, execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { isProcessAlive } from "./cleanup.js";
import { EtcdFixtureError } from "./errors.js";

/** Every namespace and root link this fixture creates starts with this. */
const PREFIX = "enf";
const IP_CANDIDATES = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"];

function ipPath(): string | undefined {
  return IP_CANDIDATES.find((path) => existsSync(path));
}

function ip(args: readonly string[]): Promise<string> {
  const bin = ipPath() ?? "ip";
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: 10_000 }, (error, stdout, stderr) => {
      if (error) {
        reject(
          new EtcdFixtureError(
            "NETWORK_FAILED",
            `ip ${args.join(" ")} failed: ${stderr.trim() || error.message}`,
            {
              cause: error,
            },
          ),
        );
      } else resolve(stdout);
    });
  });
}

let support: Promise<string | undefined> | undefined;

/**
 * Why partitions cannot be made here (one line: what is missing), or undefined when they can: they need
 * root, iproute2's `ip`, network namespaces and veth links. Checked once per process.
 */
export function partitionSupportMissing(): Promise<string | undefined> {
  support ??= (async () => {
    if (process.platform !== "linux") return `network namespaces need Linux (this is ${process.platform})`;
    const uid = process.getuid?.();
    if (uid !== 0) return `network namespaces need root (running as uid ${uid})`;
    if (ipPath() === undefined) return "iproute2's ip is not installed";
    const ns = `${PREFIX}-${process.pid.toString(36)}-probe`;
    try {
      await ip(["netns", "add", ns]);
      await ip(["-n", ns, "link", "add", "name", "probe0", "type", "veth", "peer", "name", "probe1"]);
      return undefined;
    } catch (error) {
      return `network namespaces or veth links are unavailable (${(error as Error).message.split("\n")[0]})`;
    } finally {
      await ip(["netns", "del", ns]).catch(() => {});
    }
  })();
  return support;
}

/** The command line that runs a program in namespace `ns`. */
export function netnsLauncher(ns: string): string[] {
  return [ipPath() ?? "ip", "netns", "exec", ns];
}

/** Namespaces and (as `link:NAME`) root links owned by this process, removed on exit even when `close()` never ran. */
const owned = new Set<string>();
let exitHook = false;

function own(ns: string): void {
  owned.add(ns);
  if (exitHook) return;
  exitHook = true;
  process.once("exit", () => {
    for (const name of owned) {
      const args = name.startsWith("link:") ? ["link", "del", name.slice(5)] : ["netns", "del", name];
      try {
        execFileSync(ipPath() ?? "ip", args, { stdio: "ignore" });
      } catch {
        // Already gone.
      }
    }
  });
}

/**
 * Removes the namespaces and root links of owners that are no longer running (a run killed by SIGKILL).
 * Deleting a member's namespace also deletes both ends of its links.
 */
export async function sweepStaleNamespaces(): Promise<void> {
  const namespaces = (await ip(["netns", "list"]).catch(() => ""))
    .split("\n")
    .map((line) => line.split(" ")[0] ?? "");
  for (const ns of namespaces) {
    const match = /^enf-([0-9a-z]+)-/.exec(ns);
    if (match && !isProcessAlive(Number.parseInt(match[1]!, 36)))
      await ip(["netns", "del", ns]).catch(() => {});
  }
  const links = (await ip(["-o", "link", "show"]).catch(() => "")).split("\n");
  for (const line of links) {
    const match = /^\d+: (enf([0-9a-z]+)x\d+c\d+)[@:]/.exec(line);
    if (match && !isProcessAlive(Number.parseInt(match[2]!, 36))) {
      await ip(["link", "del", match[1]!]).catch(() => {});
    }
  }
}

/** One member's place in the network. */
export interface MemberNetwork {
  /** Its namespace: etcd runs as `ip netns exec <namespace> etcd ...`. */
  readonly namespace: string;
  /** The address its client URL listens on, reachable from the root namespace. */
  readonly clientHost: string;
  /** The address its peer URL listens on, reachable only from the other members. */
  readonly peerHost: string;
  /** Its link's name in the hub namespace: down cuts the member from its peers. */
  readonly hubLink: string;
}

/** The namespaces and links of one cluster. */
export interface ClusterNetwork {
  readonly hub: string;
  readonly members: readonly MemberNetwork[];
  /** Sets the member's hub-side link down (cut from its peers) or up. */
  setPeerLink(index: number, up: boolean): Promise<void>;
  /** Removes every namespace and link. Idempotent. */
  close(): Promise<void>;
}

let clusters = 0;

/** A /24 in 10.201.0.0/16 that no address of the root namespace is in. */
async function freeClientSubnet(): Promise<number> {
  const used = await ip(["-4", "-o", "addr", "show"]);
  for (let i = 0; i < 256; i++) {
    const n = (process.pid + clusters * 7 + i) % 256;
    if (!used.includes(` 10.201.${n}.`)) return n;
  }
  throw new EtcdFixtureError("NETWORK_FAILED", "no free /24 in 10.201.0.0/16 for client links");
}

/** Creates the hub and `size` member namespaces with their links; removes what it made if a step fails. */
export async function createClusterNetwork(size: number): Promise<ClusterNetwork> {
  const k = clusters++;
  const tag = `${process.pid.toString(36)}-${k}`;
  const hub = `${PREFIX}-${tag}-hub`;
  const made: string[] = [];
  const rootLinks: string[] = [];
  // A namespace can outlive its name for a while (sockets closing in it), and the root end of its
  // client link with it: those links are deleted by name first.
  const close = async () => {
    for (const link of rootLinks.splice(0)) {
      await ip(["link", "del", link]).catch(() => {});
      owned.delete(`link:${link}`);
    }
    for (const ns of made.splice(0)) {
      await ip(["netns", "del", ns]).catch(() => {});
      owned.delete(ns);
    }
  };
  try {
    const subnet = await freeClientSubnet();
    await ip(["netns", "add", hub]);
    made.push(hub);
    own(hub);
    await ip(["-n", hub, "link", "add", "name", "br0", "type", "bridge"]);
    await ip(["-n", hub, "link", "set", "br0", "up"]);
    const members: MemberNetwork[] = [];
    for (let i = 0; i < size; i++) {
      const ns = `${PREFIX}-${tag}-m${i}`;
      await ip(["netns", "add", ns]);
      made.push(ns);
      own(ns);
      await ip(["-n", ns, "link", "set", "lo", "up"]);
      // Peer link: p0 in the member, h<i> on the hub's bridge.
      const hubLink = `h${i}`;
      await ip([
        "-n",
        ns,
        "link",
        "add",
        "name",
        "p0",
        "type",
        "veth",
        "peer",
        "name",
        hubLink,
        "netns",
        hub,
      ]);
      const peerHost = `10.200.0.${i + 1}`;
      await ip(["-n", ns, "addr", "add", `${peerHost}/24`, "dev", "p0"]);
      await ip(["-n", ns, "link", "set", "p0", "up"]);
      await ip(["-n", hub, "link", "set", hubLink, "master", "br0", "up"]);
      // Client link: a /30 between the root namespace and the member.
      const rootLink = `${PREFIX}${process.pid.toString(36)}x${k}c${i}`;
      await ip(["link", "add", "name", rootLink, "type", "veth", "peer", "name", "c0", "netns", ns]);
      rootLinks.push(rootLink);
      own(`link:${rootLink}`);
      const base = `10.201.${subnet}.`;
      await ip(["addr", "add", `${base}${4 * i + 1}/30`, "dev", rootLink]);
      await ip(["link", "set", rootLink, "up"]);
      const clientHost = `${base}${4 * i + 2}`;
      await ip(["-n", ns, "addr", "add", `${clientHost}/30`, "dev", "c0"]);
      await ip(["-n", ns, "link", "set", "c0", "up"]);
      members.push({ namespace: ns, clientHost, peerHost, hubLink });
    }
    return {
      hub,
      members,
      setPeerLink: async (index, up) => {
        const member = members[index];
        if (member === undefined) throw new EtcdFixtureError("INVALID_OPTIONS", `no member ${index}`);
        await ip(["-n", hub, "link", "set", member.hubLink, up ? "up" : "down"]);
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
