import { mkdir, writeFile } from "node:fs/promises";
import type { TargetRow } from "./context.js";

/** The environment a run was measured in. */
export interface RunEnvironment {
  date: string;
  mode: "full" | "quick";
  node: string;
  grpcJs: string;
  etcd3: string;
  etcd: string;
  etcdFsync: boolean;
  cores: number;
  cpuModel: string;
  loadAverageAtStart: number[];
  platform: string;
}

/** A scenario as reported: done, failed (the harness broke) or not run. */
export interface ScenarioReport {
  id: number;
  title: string;
  target: string;
  status: "ok" | "failed" | "skipped";
  measured: string;
  pass: boolean | null;
  durationMs: number;
  data: Record<string, unknown>;
  details: string[];
  /** One table row per target, for a scenario with several. */
  rows?: TargetRow[];
  error?: string;
}

export interface RunReport {
  environment: RunEnvironment;
  totalMs: number;
  scenarios: ScenarioReport[];
}

function verdict(status: ScenarioReport["status"], pass: boolean | null): string {
  if (status === "failed") return "⚠️ harness error";
  if (status === "skipped") return "— not run";
  if (pass === null) return "—";
  return pass ? "✅" : "❌";
}

const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");

/** The markdown report: environment, the table with a verdict per row, then the distributions. */
export function toMarkdown(report: RunReport): string {
  const env = report.environment;
  const lines = [
    `# Benchmark results (${env.mode} mode)`,
    "",
    `${env.date} · ${env.cores} cores (${env.cpuModel}), load average at start ${env.loadAverageAtStart.join(" / ")} · ` +
      `Node ${env.node} · @grpc/grpc-js ${env.grpcJs} · etcd3 ${env.etcd3} · etcd ${env.etcd} (fsync on, one ` +
      `member on loopback) · the built packages (\`dist\`, as npm installs them) · ${env.platform} · run took ${Math.round(report.totalMs / 1000)} s`,
    "",
    "Read the overheads and ratios to the raw etcd3 watch (measured in the same run, interleaved) before the",
    "absolute numbers, which follow the machine and its load; bench/README.md explains every row.",
    "",
    "| # | scenario | measured | target | result |",
    "|---|---|---|---|---|",
  ];
  for (const s of report.scenarios) {
    if (s.status === "ok" && s.rows !== undefined) {
      for (const row of s.rows) {
        lines.push(
          `| ${s.id} | ${cell(row.title)} | ${cell(row.measured)} | ${cell(row.target)} | ${verdict(s.status, row.pass)} |`,
        );
      }
      continue;
    }
    const measured = s.status === "failed" ? `failed: ${s.error ?? "unknown error"}` : s.measured;
    lines.push(
      `| ${s.id} | ${cell(s.title)} | ${cell(measured)} | ${cell(s.target)} | ${verdict(s.status, s.pass)} |`,
    );
  }
  lines.push("");
  for (const s of report.scenarios) {
    if (s.details.length === 0) continue;
    lines.push(`## ${s.id}. ${s.title}`, "", ...s.details, "");
  }
  return `${lines.join("\n").trimEnd()}\n`;
}

/** Writes `<dir>/<name>.json` and `<dir>/<name>.md`. */
export async function writeReport(dir: URL, name: string, report: RunReport): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const json = new URL(`${name}.json`, dir);
  const md = new URL(`${name}.md`, dir);
  await writeFile(json, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(md, toMarkdown(report));
  return [json.pathname, md.pathname];
}
