// A grammar of `etcd-naming` command lines: the real commands and flags with values at and beyond their
// limits, mixed with hostile tokens. Every endpoint it names is on loopback (or refused by the CLI's own
// validation before anything is dialled). `@etcd` stands for the test's etcd (host:port), `@port` for its
// port, `@dir` for a scratch directory: they are filled in at run time.
import fc from "fast-check";

export const COMMANDS = ["add", "del", "list", "watch", "register"] as const;

const nested = (depth: number): string => `${"[".repeat(depth)}1${"]".repeat(depth)}`;

export const HOSTILE = [
  "",
  " ",
  "-",
  "--",
  "---x",
  "--unknown",
  "-Z",
  "--__proto__",
  "--constructor",
  "--toString",
  "__proto__",
  "constructor",
  "prototype",
  "hasOwnProperty",
  "toString",
  "ünïcödé",
  "\u202eevil",
  "a\u0000b",
  "a\nb",
  "$(touch /tmp/fuzz-never)",
  "%s%n%x",
  "x".repeat(10_000),
];

export const SERVICES = [
  "svc",
  "team/svc",
  "__proto__",
  "constructor",
  "svc/__proto__",
  "",
  " ",
  "../x",
  "svc/..",
  "a//b",
  "/svc",
  "svc/",
  "a\nb",
  "s\u0000",
  "\ud800",
];

export const ADDRESSES = [
  "127.0.0.1:1",
  "[::1]:2",
  "localhost:3",
  "10.0.0.1:50051",
  "unix:///tmp/fuzz.sock",
  "",
  " ",
  "a b",
  "127.0.0.1:99999",
  "\u0000",
];

export const ENDPOINTS = [
  "@etcd",
  "http://@etcd",
  "https://@etcd", // TLS to a plaintext etcd
  "localhost:@port",
  "127.0.0.1:1", // refused
  "[::1]:1",
  "http://:@port", // an empty host: Node warns (DEP0118)
  "http://user:fuzz-password@@etcd",
  "@etcd,127.0.0.1:1",
  "@etcd,https://@etcd",
  "",
  ",",
  " , ",
  "a b",
  "http://127.0.0.1:1/path",
  "127.0.0.1:1/",
];

export const DURATIONS = [
  "1s",
  "500ms",
  "3s",
  "5",
  "1m30s",
  "1.5s",
  " 2s ",
  "0",
  "0s",
  "-1s",
  "0.0001ms",
  "0.4ms",
  "1e3",
  "2147483647ms",
  "2147483648ms",
  "596h",
  "597h",
  "99999999h",
  "1h1h",
  "abc",
  "",
  "Infinity",
  "NaN",
];

export const TTLS = [
  "2",
  "3",
  "10",
  "1",
  "0",
  "-5",
  "10.5",
  " 3 ",
  "0x10",
  "1e3",
  "2147483",
  "2147484",
  "6442451",
  "9000000000",
  "9000000001",
  "99999999999999999999",
  "",
];

export const METADATA = [
  '"zone-a"',
  '{"zone":"a","weight":2}',
  "null",
  "[]",
  "{nope",
  "",
  '{"__proto__":{"polluted":true}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
  nested(31),
  nested(40),
  "1e400",
  '"\\ud800"',
  `"${"m".repeat(70_000)}"`,
];

export const USERS = ["", ":", "fuzz", "fuzz:fuzz-password", ":fuzz-password", "fuzz:", "__proto__:x"];

export const FILES = ["@dir/missing.pem", "@dir", "/dev/null", "@dir/garbage.pem"];

const pick = <T>(items: readonly T[]) => fc.constantFrom(...items);

const valueFlag: fc.Arbitrary<string[]> = fc.oneof(
  pick(METADATA).map((v) => ["--metadata", v]),
  fc.oneof(pick(HOSTILE), pick(ADDRESSES), fc.constant("svc/other")).map((v) => ["--id", v]),
  pick(TTLS).map((v) => ["--ttl", v]),
  pick(ENDPOINTS).map((v) => ["--endpoints", v]),
  pick(DURATIONS).map((v) => ["--dial-timeout", v]),
  pick(DURATIONS).map((v) => ["--command-timeout", v]),
  pick(USERS).map((v) => ["--user", v]),
  fc.tuple(fc.constantFrom("--cacert", "--cert"), pick(FILES)).map(([f, v]) => [f, v]),
  pick(DURATIONS).map((v) => [`--dial-timeout=${v}`]),
  pick(TTLS).map((v) => [`--ttl=${v}`]),
);
const bareFlag = pick([
  "--json",
  "-q",
  "--quiet",
  "--all",
  "--yes",
  "-y",
  "-qy",
  "--help",
  "-h",
  "--version",
  "-v",
]).map((f) => [f]);
const flag: fc.Arbitrary<string[]> = fc.oneof(
  { weight: 3, arbitrary: valueFlag },
  { weight: 2, arbitrary: bareFlag },
  { weight: 1, arbitrary: pick(HOSTILE).map((t) => [t]) },
);

const positional: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: pick(SERVICES) },
  { weight: 3, arbitrary: pick(ADDRESSES) },
  { weight: 1, arbitrary: pick(HOSTILE) },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
);

/** A structured command line: flags, a command (or help), positionals, more flags. */
const structured: fc.Arbitrary<string[]> = fc
  .tuple(
    fc.array(flag, { maxLength: 2 }),
    fc.oneof(
      { weight: 6, arbitrary: pick(COMMANDS).map((c) => [c]) },
      {
        weight: 1,
        arbitrary: fc
          .tuple(fc.constant("help"), fc.oneof(pick(COMMANDS), pick(HOSTILE)))
          .map(([h, t]) => [h, t]),
      },
      {
        weight: 1,
        arbitrary: pick(["help", "--help", "-h", "--version", "helps", "LIST", "ad d"]).map((c) => [c]),
      },
    ),
    fc.array(positional, { maxLength: 3 }),
    fc.array(flag, { maxLength: 4 }),
  )
  .map(([before, command, positionals, after]) => [
    ...before.flat(),
    ...command,
    ...positionals,
    ...after.flat(),
  ]);

/** Anything at all from the vocabulary, in any order. */
const soup: fc.Arbitrary<string[]> = fc
  .array(
    fc.oneof(
      flag,
      positional.map((p) => [p]),
      pick(COMMANDS).map((c) => [c]),
    ),
    { maxLength: 6 },
  )
  .map((parts) => parts.flat());

export const argvArb: fc.Arbitrary<string[]> = fc.oneof(
  { weight: 4, arbitrary: structured },
  { weight: 1, arbitrary: soup },
);

/** Environment variables the CLI reads, with hostile values. */
export const envArb: fc.Arbitrary<Record<string, string>> = fc
  .record(
    {
      ETCDCTL_ENDPOINTS: pick(ENDPOINTS),
      ETCDCTL_DIAL_TIMEOUT: pick(DURATIONS),
      ETCDCTL_COMMAND_TIMEOUT: pick(DURATIONS),
      ETCDCTL_USER: pick(USERS),
      ETCD_PASSWORD: pick(["", "fuzz-password", "x\ny"]),
      NO_COLOR: pick(["", "1"]),
    },
    { requiredKeys: [] },
  )
  .map((env) => ({ ...env }));

/** Fills in the placeholders. */
export function fill(token: string, etcdHostPort: string, dir: string): string {
  const port = etcdHostPort.slice(etcdHostPort.lastIndexOf(":") + 1);
  return token.replaceAll("@etcd", etcdHostPort).replaceAll("@port", port).replaceAll("@dir", dir);
}
