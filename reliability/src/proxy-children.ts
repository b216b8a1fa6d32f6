// The client processes of the gRPC proxy suite (children/proxy-channels.ts), spawned under the same node
// with tsx and the source condition, each speaking one JSON object per stdout line.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describeEndpoint, diffSets, type EndpointSet, type History } from "./history.js";

const script = fileURLToPath(new URL("./children/proxy-channels.ts", import.meta.url));
const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

/** One update a child's resolver emitted for a service. */
export interface ChildUpdate {
  readonly service: string;
  readonly revision: bigint;
  readonly set: EndpointSet;
}

/** What a child reports on request: every channel's address list, counted per service. */
export interface ChildReport {
  /** service → (sorted "host:port" list joined by ",") → channels holding exactly that list. */
  readonly sets: Record<string, Record<string, number>>;
  readonly watchedServices: number;
  readonly stale: string[];
  readonly errors: string[];
  readonly rssMb: number;
}

export class ProxyChild {
  readonly updates: ChildUpdate[] = [];
  private readonly child: ChildProcess;
  private readonly waiting = new Map<string, ((message: Record<string, unknown>) => void)[]>();
  private readonly exited: Promise<void>;
  private output = "";

  constructor(
    readonly name: string,
    endpoint: string,
    services: readonly string[],
    channels: number,
  ) {
    this.child = spawn(
      process.execPath,
      [
        "--conditions=@etcd-naming/source",
        "--import",
        "tsx",
        script,
        endpoint,
        services.join(","),
        String(channels),
      ],
      { cwd: repoRoot, stdio: ["pipe", "pipe", "pipe"] },
    );
    this.exited = new Promise((resolve) => this.child.once("exit", () => resolve()));
    this.child.stderr!.setEncoding("utf8");
    this.child.stderr!.on("data", (chunk: string) => {
      this.output = (this.output + chunk).slice(-4_000);
    });
    let buffered = "";
    this.child.stdout!.setEncoding("utf8");
    this.child.stdout!.on("data", (chunk: string) => {
      buffered += chunk;
      for (let newline = buffered.indexOf("\n"); newline !== -1; newline = buffered.indexOf("\n")) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line !== "") this.onMessage(line);
      }
    });
  }

  private onMessage(line: string): void {
    let message: Record<string, unknown> & { type: string };
    try {
      message = JSON.parse(line) as typeof message;
    } catch {
      this.output = `${this.output}\n${line}`.slice(-4_000);
      return;
    }
    if (message.type === "update") {
      const endpoints = message.endpoints as [string, string, string][];
      this.updates.push({
        service: message.service as string,
        revision: BigInt(message.revision as string),
        set: new Map(endpoints.map(([key, addr, modRevision]) => [key, describeEndpoint(addr, modRevision)])),
      });
      return;
    }
    this.waiting.get(message.type)?.shift()?.(message);
  }

  private next(type: string, timeoutMs: number): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`${this.name} sent no ${type} within ${timeoutMs} ms\n${this.output}`));
      }, timeoutMs);
      const queue = this.waiting.get(type) ?? [];
      queue.push((message) => {
        clearTimeout(timer);
        resolve(message);
      });
      this.waiting.set(type, queue);
    });
  }

  /** Resolves once every service was listed. */
  ready(timeoutMs: number): Promise<unknown> {
    return this.next("ready", timeoutMs);
  }

  async report(timeoutMs = 30_000): Promise<ChildReport> {
    const reply = this.next("report", timeoutMs);
    this.child.stdin!.write("report\n");
    return (await reply) as unknown as ChildReport;
  }

  /**
   * Replays every update against etcd's history, as the WatchRecorder does for a watcher in this process:
   * each update's set must be etcd's set at its revision, and revisions never go back.
   */
  checkHistory(history: History): string[] {
    const problems: string[] = [];
    const previous = new Map<string, bigint>();
    for (const [i, update] of this.updates.entries()) {
      const before = previous.get(update.service) ?? -1n;
      if (update.revision < before) {
        problems.push(
          `${this.name} ${update.service} update ${i} went back from ${before} to ${update.revision}`,
        );
      }
      previous.set(update.service, update.revision);
      if (update.revision > history.revision) continue;
      const diff = diffSets(update.set, history.setAt(update.service, update.revision));
      if (diff !== undefined) problems.push(`${this.name} ${update.service} update ${i}: ${diff}`);
    }
    return problems;
  }

  /** Asks the child to close its channels and exit; kills it if it has not within 10 s. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.stdin!.write("exit\n");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}
