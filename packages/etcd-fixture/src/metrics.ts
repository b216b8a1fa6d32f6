// etcd's Prometheus page (`GET <clientUrl>/metrics`), read and parsed once for every suite that counts
// watchers, watch streams, leases or gRPC streams on a member.
import { EtcdFixtureError } from "./errors.js";
import { type HttpTls, httpText } from "./http-json.js";

/** One sample line: `name{label="value",...} value`. */
export interface MetricSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A parsed `/metrics` page. Label filters match series whose labels include every one given. */
export interface EtcdMetrics {
  readonly samples: readonly MetricSample[];
  /**
   * The value of the first series of `name` matching `labels` (e.g. the gauge
   * `etcd_debugging_mvcc_watcher_total`); throws when there is none.
   */
  value(name: string, labels?: Record<string, string>): number;
  /** The sum over every series of `name` matching `labels`; 0 when there is none. */
  sum(name: string, labels?: Record<string, string>): number;
  /** gRPC calls of `method` (e.g. `"LeaseKeepAlive"`) open now: started minus handled. */
  openStreams(method: string): number;
}

const SAMPLE = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

const unescapeLabel = (value: string): string =>
  value.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));

const matches = (sample: MetricSample, name: string, labels: Record<string, string>): boolean =>
  sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value);

/** Parses Prometheus text exposition (comments and `# HELP`/`# TYPE` lines are skipped). */
export function parseMetrics(text: string): EtcdMetrics {
  const samples: MetricSample[] = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const match = SAMPLE.exec(line.trim());
    if (match === null) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? "").matchAll(LABEL)) labels[key!] = unescapeLabel(value!);
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  const select = (name: string, labels: Record<string, string>) =>
    samples.filter((sample) => matches(sample, name, labels));
  const sum = (name: string, labels: Record<string, string> = {}) =>
    select(name, labels).reduce((total, sample) => total + sample.value, 0);
  return {
    samples,
    value(name, labels = {}) {
      const sample = select(name, labels)[0];
      if (sample === undefined) {
        const filter = Object.entries(labels).map(([key, value]) => `${key}=${JSON.stringify(value)}`);
        throw new Error(`etcd /metrics has no ${name}${filter.length === 0 ? "" : `{${filter.join(",")}}`}`);
      }
      return sample.value;
    },
    sum,
    openStreams: (method) =>
      sum("grpc_server_started_total", { grpc_method: method }) -
      sum("grpc_server_handled_total", { grpc_method: method }),
  };
}

/**
 * Reads and parses `<clientUrl>/metrics` (pass `tls` for an https member); fails with `METRICS_FAILED`
 * when the member does not answer within `timeoutMs` (default 5 000).
 */
export async function readEtcdMetrics(
  clientUrl: string,
  options: { timeoutMs?: number; tls?: HttpTls | undefined } = {},
): Promise<EtcdMetrics> {
  const url = `${clientUrl}/metrics`;
  try {
    return parseMetrics(await httpText("GET", url, undefined, options.timeoutMs ?? 5_000, options.tls));
  } catch (error) {
    throw new EtcdFixtureError("METRICS_FAILED", `reading ${url} failed: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
