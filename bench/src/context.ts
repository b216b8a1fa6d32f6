import type { EtcdServer } from "@etcd-naming/etcd-fixture";
import type { EtcdResolverHandle } from "@etcd-naming/grpc-js";
import type { Etcd3, IOptions } from "etcd3";
import type { ChildHandle } from "./children.js";
import type { EchoServer } from "./echo-server.js";

/** What every scenario gets: one etcd, clients, the echo server and the registered resolvers. */
export interface BenchContext {
  readonly quick: boolean;
  readonly etcd: EtcdServer;
  readonly clientUrl: string;
  /** A client for setup writes and raw reads. */
  readonly client: Etcd3;
  /** The client the `etcd:` and `etcd-zero:` resolvers watch through. */
  readonly resolverClient: Etcd3;
  /** `etcd:` with the package defaults (coalesceMs 5, updates at least 100 ms apart). */
  readonly resolver: EtcdResolverHandle;
  /** `etcd-zero:` with coalesceMs 0 and no update spacing: the resolver's own cost, nothing waited. */
  readonly zeroResolver: EtcdResolverHandle;
  readonly echo: EchoServer;
  /** A new etcd3 client on the run's etcd, closed when the run ends. */
  newClient(options?: Partial<IOptions>): Etcd3;
  /** Starts a TypeScript child process from `src/children/`, killed when the run ends. */
  spawnChild(script: string, args: readonly string[]): ChildHandle;
  /** Progress on stderr. */
  log(message: string): void;
}

/** One target of a scenario that has several, each a row of the results table. */
export interface TargetRow {
  title: string;
  measured: string;
  target: string;
  pass: boolean;
}

/** One row of the results table and its machine-readable figures. */
export interface ScenarioOutcome {
  /** One line for the table's "measured" column (markdown). */
  measured: string;
  /** Whether the target was met; `null` when the scenario cannot judge it. */
  pass: boolean | null;
  /**
   * Set when the scenario cannot run on this machine (a toolchain is missing): what is missing and the
   * command that provides it. The row then says "skipped: …"; it is not a harness failure.
   */
  skipped?: string;
  /** A scenario with several targets reports one table row per target instead of its own row. */
  rows?: TargetRow[];
  /** Machine-readable figures for latest.json. */
  data: Record<string, unknown>;
  /** Markdown lines for the details section. */
  details: string[];
}

export interface Scenario {
  id: number;
  title: string;
  target: string;
  run(context: BenchContext): Promise<ScenarioOutcome>;
}
