// etcd's gRPC naming recipes (put, del, lease grant + put --lease + keep-alive), each done three ways:
// with etcdctl, with the etcd-naming CLI, and with the @etcd-naming/registrar API. Go's naming packages,
// grpc-go's etcd resolver and @etcd-naming/grpc-js all read what any of the three writes.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createEndpointManager, type Registration, register } from "@etcd-naming/registrar";
import type { Etcd3 } from "etcd3";

/** How to reach etcd and the two command-line tools. */
export interface Tools {
  client: Etcd3;
  endpoints: string[];
  /** etcdctl (API v3), e.g. `/usr/bin/etcdctl`. */
  etcdctl: string;
  /** The argv that runs `etcd-naming`, e.g. `["node", "/path/to/bin/etcd-naming.mjs"]`. */
  cli: string[];
}

export type WayName = "etcdctl" | "etcd-naming" | "API";

/** One way of doing one step: what a person would type, and doing it. */
export interface Way {
  name: WayName;
  /** The service this way works on: the same name under a per-way prefix, so the three can be compared. */
  service: string;
  /** The command line or the code, as it would be written. */
  shown: string;
  /** Runs it; returns what it printed. */
  run(): Promise<string>;
}

export interface Recipe {
  title: string;
  ways: Way[];
}

/** Things started by the lease recipe that outlive it (keep-alives); `stop()` ends them and revokes. */
export interface Running {
  stop(): Promise<void>;
}

const quote = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`);

function exec(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const [file, ...args] = argv as [string, ...string[]];
  return new Promise((resolve, reject) => {
    execFile(file, args, { env: { ...process.env, ...env }, timeout: 15_000 }, (error, stdout, stderr) =>
      error
        ? reject(new Error(`${argv.join(" ")} failed: ${stderr || error.message}`))
        : resolve(stdout.trim()),
    );
  });
}

/** Starts a long-running command and resolves with its first line of output. */
function startLongRunning(
  argv: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ child: ChildProcess; first: string }> {
  const [file, ...args] = argv as [string, ...string[]];
  const child = spawn(file, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    child.stdout?.on("data", (chunk) => {
      out += chunk;
      const newline = out.indexOf("\n");
      if (newline >= 0) resolve({ child, first: out.slice(0, newline) });
    });
    child.stderr?.on("data", (chunk) => (err += chunk));
    child.once("exit", (code) => reject(new Error(`${argv.join(" ")} exited with ${code}: ${err}`)));
  });
}

const stopChild = (child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill(signal);
  });

/**
 * The recipes for one endpoint (`addr` with string `metadata`), each way on its own service
 * `<prefix>/<way>/<service>` so that their results can be compared key by key.
 */
export function recipes(
  tools: Tools,
  options: { prefix: string; service: string; addr: string; metadata: string; ttl: number },
): { add: Recipe; del: Recipe; lease: Recipe; running: Running } {
  const { client, endpoints, etcdctl, cli } = tools;
  const { addr, metadata, ttl } = options;
  const service = (way: string): string => `${options.prefix}/${way}/${options.service}`;
  const etcdctlEnv = { ETCDCTL_API: "3" };
  const ctl = (...args: string[]): string[] => [etcdctl, `--endpoints=${endpoints.join(",")}`, ...args];
  const naming = (...args: string[]): string[] => [...cli, ...args, "--endpoints", endpoints.join(",")];
  // The exact bytes Go's endpoints.Manager writes; readers also accept the shorter {"Addr":…}.
  const goValue = JSON.stringify({ Op: 0, Addr: addr, Metadata: metadata });
  const children: ChildProcess[] = [];
  const registrations: Registration[] = [];
  const leases: string[] = [];

  const s1 = service("etcdctl");
  const s2 = service("etcd-naming");
  const s3 = service("api");
  const manager = createEndpointManager(client, s3);

  const add: Recipe = {
    title: "Add an endpoint (no lease)",
    ways: [
      {
        name: "etcdctl",
        service: s1,
        shown: `etcdctl put ${s1}/${addr} ${quote(goValue)}`,
        run: () => exec(ctl("put", `${s1}/${addr}`, goValue), etcdctlEnv),
      },
      {
        name: "etcd-naming",
        service: s2,
        shown: `etcd-naming add ${s2} ${addr} --metadata ${quote(JSON.stringify(metadata))}`,
        run: () => exec(naming("add", s2, addr, "--metadata", JSON.stringify(metadata))),
      },
      {
        name: "API",
        service: s3,
        shown: `await createEndpointManager(client, "${s3}").addEndpoint("${s3}/${addr}", { addr: "${addr}", metadata: ${JSON.stringify(metadata)} })`,
        run: async () => {
          await manager.addEndpoint(`${s3}/${addr}`, { addr, metadata });
          return "";
        },
      },
    ],
  };

  const del: Recipe = {
    title: "Delete it",
    ways: [
      {
        name: "etcdctl",
        service: s1,
        shown: `etcdctl del ${s1}/${addr}`,
        run: () => exec(ctl("del", `${s1}/${addr}`), etcdctlEnv),
      },
      {
        name: "etcd-naming",
        service: s2,
        shown: `etcd-naming del ${s2} ${addr}`,
        run: () => exec(naming("del", s2, addr)),
      },
      {
        name: "API",
        service: s3,
        shown: `await manager.deleteEndpoint("${s3}/${addr}")`,
        run: async () => {
          await manager.deleteEndpoint(`${s3}/${addr}`);
          return "";
        },
      },
    ],
  };

  const lease: Recipe = {
    title: `Register with a ${ttl} s lease and keep it alive`,
    ways: [
      {
        name: "etcdctl",
        service: s1,
        shown: [
          `lease=$(etcdctl lease grant ${ttl} | cut -f 2 -d ' ')`,
          `etcdctl put --lease=$lease ${s1}/${addr} ${quote(goValue)}`,
          `etcdctl lease keep-alive $lease &`,
        ].join("\n"),
        run: async () => {
          const granted = await exec(ctl("lease", "grant", String(ttl)), etcdctlEnv);
          const id = granted.split(" ")[1]!;
          leases.push(id);
          const put = await exec(ctl("put", `--lease=${id}`, `${s1}/${addr}`, goValue), etcdctlEnv);
          const { child, first } = await startLongRunning(ctl("lease", "keep-alive", id), etcdctlEnv);
          children.push(child);
          return [granted, put, first].join("\n");
        },
      },
      {
        name: "etcd-naming",
        service: s2,
        shown: `etcd-naming register ${s2} ${addr} --ttl ${ttl} --metadata ${quote(JSON.stringify(metadata))} &`,
        run: async () => {
          const argv = naming(
            "register",
            s2,
            addr,
            "--ttl",
            String(ttl),
            "--metadata",
            JSON.stringify(metadata),
          );
          const { child, first } = await startLongRunning(argv);
          children.push(child);
          return first;
        },
      },
      {
        name: "API",
        service: s3,
        shown: `const registration = await register({ client, service: "${s3}", addr: "${addr}", metadata: ${JSON.stringify(metadata)}, ttl: ${ttl} })`,
        run: async () => {
          const registration = await register({ client, service: s3, addr, metadata, ttl });
          registrations.push(registration);
          return `lease ${registration.leaseIdHex}`;
        },
      },
    ],
  };

  const running: Running = {
    async stop() {
      // SIGTERM makes `etcd-naming register` deregister; etcdctl's keep-alive just stops, so revoke.
      await Promise.all(children.splice(0).map((child) => stopChild(child)));
      await Promise.all(registrations.splice(0).map((r) => r.deregister()));
      for (const id of leases.splice(0)) await exec(ctl("lease", "revoke", id), etcdctlEnv).catch(() => "");
    },
  };

  return { add, del, lease, running };
}

/** What one way left in etcd under its service: the raw value bytes and the lease they hang on. */
export interface Stored {
  key: string;
  value: string;
  /** Decimal lease id, "0" without a lease. */
  lease: string;
  /** The lease's granted TTL and the keys attached to it (empty without a lease). */
  grantedTtl: number;
  attachedKeys: string[];
}

/** Reads what is stored under `<service>/`, with the lease attachment of each key. */
export async function stored(client: Etcd3, service: string): Promise<Stored[]> {
  const response = await client.getAll().prefix(`${service}/`).exec();
  return Promise.all(
    response.kvs.map(async (kv) => {
      const lease = String(kv.lease);
      let grantedTtl = 0;
      let attachedKeys: string[] = [];
      if (lease !== "0") {
        const ttl = await client.leaseClient.leaseTimeToLive({ ID: lease, keys: true });
        grantedTtl = Number(ttl.grantedTTL);
        attachedKeys = ttl.keys.map((k) => k.toString());
      }
      return { key: kv.key.toString(), value: kv.value.toString(), lease, grantedTtl, attachedKeys };
    }),
  );
}
