// Files given to the CLI (--cacert, --cert, --key and their ETCDCTL_* variables): special files, huge
// files, missing files. Each must end in a bounded, prompt, one-line error with exit 2 — never a hang on a
// FIFO, never a process growing without bound on /dev/zero. Run as real processes: a blocking read
// would hang a test worker, and memory is only measurable per process.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import fc from "fast-check";
import { afterAll, beforeAll, it } from "vitest";
import { type CliRun, contractProblems, killCliProcesses, runCliProcess } from "./cli-run.js";
import { bump, type Counts, fuzzFile, testTimeoutFor } from "./fuzz-env.js";

const fuzz = fuzzFile("cli-files");
const etcd = useTestEtcd();

/** Kinds of file a user (or a hostile wrapper script) can hand the CLI. */
const KINDS = [
  "dev-zero",
  "dev-urandom",
  "dev-null",
  "fifo-without-writer",
  "directory",
  "huge-sparse-file",
  "missing",
  "dangling-symlink",
  "symlink-to-dev-zero",
  "symlink-loop",
  "unix-socket",
] as const;
type Kind = (typeof KINDS)[number];
/** Regular, small, not a certificate: the CLI may fail at exit 1 or 2, but by the same one-line contract. */
const GARBAGE = "garbage-file" as const;

let dir: string;
let socketServer: Server;
const paths = new Map<Kind | typeof GARBAGE, string>();
let goodPem: string;

beforeAll(async () => {
  dir = mkdtempSync(`${tmpdir()}/fuzz-files-`);
  paths.set("dev-zero", "/dev/zero");
  paths.set("dev-urandom", "/dev/urandom");
  paths.set("dev-null", "/dev/null");
  execFileSync("mkfifo", [`${dir}/fifo`]);
  paths.set("fifo-without-writer", `${dir}/fifo`);
  mkdirSync(`${dir}/directory`);
  paths.set("directory", `${dir}/directory`);
  // 256 MiB and one byte, sparse: takes no disk, and is past any sane limit for a certificate bundle.
  writeFileSync(`${dir}/huge.pem`, "");
  truncateSync(`${dir}/huge.pem`, 256 * 1024 * 1024 + 1);
  paths.set("huge-sparse-file", `${dir}/huge.pem`);
  paths.set("missing", `${dir}/no-such-file.pem`);
  symlinkSync(`${dir}/nowhere`, `${dir}/dangling`);
  paths.set("dangling-symlink", `${dir}/dangling`);
  symlinkSync("/dev/zero", `${dir}/zero.pem`);
  paths.set("symlink-to-dev-zero", `${dir}/zero.pem`);
  symlinkSync(`${dir}/loop-b`, `${dir}/loop-a`);
  symlinkSync(`${dir}/loop-a`, `${dir}/loop-b`);
  paths.set("symlink-loop", `${dir}/loop-a`);
  socketServer = createServer(() => {});
  await new Promise<void>((resolve) => socketServer.listen(`${dir}/socket`, resolve));
  paths.set("unix-socket", `${dir}/socket`);
  writeFileSync(
    `${dir}/garbage.pem`,
    Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) & 0xff)),
  );
  paths.set(GARBAGE, `${dir}/garbage.pem`);
  goodPem = `${dir}/good.pem`;
  writeFileSync(goodPem, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
});

afterAll(async () => {
  await killCliProcesses();
  await new Promise<void>((resolve) => (socketServer ? socketServer.close(() => resolve()) : resolve()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

type Slot = "--cacert" | "--cert" | "--key" | "ETCDCTL_CACERT" | "ETCDCTL_CERT" | "ETCDCTL_KEY";
const SLOTS: Slot[] = ["--cacert", "--cert", "--key", "ETCDCTL_CACERT", "ETCDCTL_CERT", "ETCDCTL_KEY"];
const COMMANDS = [
  ["list"],
  ["watch"],
  ["add", "@svc", "127.0.0.1:1"],
  ["register", "@svc", "127.0.0.1:1"],
  ["del", "@svc", "x"],
];

interface Input {
  kind: Kind | typeof GARBAGE;
  slot: Slot;
  command: number;
  /** TLS flags after the command (list, watch, del here; --key is the TLS key after every command). */
  after: boolean;
}

const inputArb: fc.Arbitrary<Input> = fc.record({
  kind: fc.constantFrom<Kind | typeof GARBAGE>(...KINDS, GARBAGE),
  slot: fc.constantFrom(...SLOTS),
  command: fc.nat(COMMANDS.length - 1),
  after: fc.boolean(),
});

function argvOf(input: Input, service: string): { args: string[]; env: Record<string, string> } {
  const path = paths.get(input.kind)!;
  const env: Record<string, string> = {};
  const tls: string[] = [];
  // The other half of a cert/key pair is an ordinary small file, so only the file under test is special.
  if (input.slot === "--cacert") tls.push("--cacert", path);
  else if (input.slot === "--cert") tls.push("--cert", path, "--key", goodPem);
  else if (input.slot === "--key") tls.push("--cert", goodPem, "--key", path);
  else if (input.slot === "ETCDCTL_CACERT") env["ETCDCTL_CACERT"] = path;
  else if (input.slot === "ETCDCTL_CERT") Object.assign(env, { ETCDCTL_CERT: path, ETCDCTL_KEY: goodPem });
  else Object.assign(env, { ETCDCTL_CERT: goodPem, ETCDCTL_KEY: path });
  const command = COMMANDS[input.command]!.map((t) => (t === "@svc" ? service : t));
  if (command.length === 1) command.push(service);
  const after = input.after && (command[0] === "list" || command[0] === "watch" || command[0] === "del");
  const common = ["--endpoints", etcd.endpoints.join(","), "--dial-timeout", "3s"];
  return { args: after ? [...command, ...common, ...tls] : [...tls, ...common, ...command], env };
}

const MAX_RSS_KB = 300 * 1024;
const TIMEOUT_MS = 45_000;

function problemsOf(input: Input, run: CliRun): string[] {
  const problems = contractProblems(run);
  const path = paths.get(input.kind)!;
  if (input.kind !== GARBAGE) {
    if (run.code !== 2)
      problems.push(`exit ${run.code}, expected 2 (a usage error) for ${input.kind} in ${input.slot}`);
    const line = run.stderr.split("\n").find((l) => l.startsWith("error:")) ?? "";
    const names = [path, input.slot, input.slot.replace(/^ETCDCTL_/, "--").toLowerCase()];
    if (!names.some((n) => line.includes(n)))
      problems.push(`the error line names neither the file nor ${input.slot}: ${JSON.stringify(line)}`);
    if (line.length > 1000) problems.push(`the error line is ${line.length} characters long`);
  }
  if (run.guard.some((g) => g.kind === "connect"))
    problems.push(`connections refused by the loopback guard: ${JSON.stringify(run.guard)}`);
  return problems;
}

// Every kind of file once, in the slot users reach most (--cacert) and in an environment variable.
const EXAMPLES: [Input[]][] = [];
const sweep: Input[] = [...KINDS, GARBAGE].map(
  (kind, i): Input => ({
    kind,
    slot: i % 2 === 0 ? "--cacert" : "ETCDCTL_CACERT",
    command: i % COMMANDS.length,
    after: false,
  }),
);
for (let i = 0; i < sweep.length; i += 4) EXAMPLES.push([sweep.slice(i, i + 4)]);

const BUDGET = { runs: 1, runTimeoutMs: 2 * (TIMEOUT_MS + 5_000), shrinkMs: 30_000, examples: EXAMPLES };
const counts: Counts = {};
let serial = 0;

it("special, huge and missing files end in one prompt error line with exit 2", {
  timeout: testTimeoutFor(BUDGET),
}, async () => {
  const property = fc.asyncProperty(fc.array(inputArb, { minLength: 1, maxLength: 4 }), async (inputs) => {
    // Up to four processes at once: each mostly waits on its own start-up.
    const runs = await Promise.all(
      inputs.map(async (input) => {
        const { args, env } = argvOf(input, `${etcd.namespace}/files-${++serial}`);
        const run = await runCliProcess(args, { env, timeoutMs: TIMEOUT_MS, maxRssKb: MAX_RSS_KB });
        bump(counts, "processes");
        counts["peak RSS KiB"] = Math.max(counts["peak RSS KiB"] ?? 0, run.peakRssKb ?? 0);
        counts["slowest ms"] = Math.max(counts["slowest ms"] ?? 0, run.ms);
        return { input, args, env, run };
      }),
    );
    const failures = runs.flatMap(({ input, args, env, run }) => {
      const problems = problemsOf(input, run);
      if (problems.length === 0) return [];
      return [
        `etcd-naming ${args.map((a) => JSON.stringify(a)).join(" ")}${Object.keys(env).length ? ` with ${JSON.stringify(env)}` : ""}: ` +
          `${problems.join("; ")} (exit ${run.code}, ${run.ms} ms, peak ${run.peakRssKb} KiB; stderr ${JSON.stringify(run.stderr.slice(0, 300))})`,
      ];
    });
    if (failures.length > 0) throw new Error(failures.join("\n"));
  });
  await fuzz.check("file inputs", property, BUDGET, counts);
});
