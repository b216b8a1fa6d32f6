// What every Go interop test file shares: one `describe` per Go flavour (etcd 3.4.23's and 3.5.30's Go
// packages), each skipped (saying what to install) when its toolchain or sources are missing, with an etcd
// server of the flavour's release, the helper built once, and no Go process left behind.
import { type EtcdServer, startEtcd } from "@etcd-naming/etcd-fixture";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import { Etcd3, type IOptions } from "etcd3";
import { afterAll, afterEach, beforeAll, describe } from "vitest";
import { flavourEtcdBinary, flavourUnavailableReason, GO_FLAVOURS, type GoFlavour } from "./flavours.js";
import { BUILD_TIMEOUT_MS, buildGoHelper, killAllGo, runGoOk } from "./go-helper.js";

/** Why each flavour is skipped here (undefined when it runs), printed once per test file. */
const skipReasons = new Map(GO_FLAVOURS.map((f) => [f.id, flavourUnavailableReason(f)]));
for (const reason of skipReasons.values()) if (reason !== undefined) console.warn(reason);

/** The built helper, available from `beforeAll` on. */
export interface GoHelper {
  readonly binary: string;
}

/** The etcd a flavour's tests run against: the shared one when it is that release, else a private one. */
export interface FlavourEtcd {
  /** `host:port` endpoints, available from `beforeAll` on. */
  readonly endpoints: string[];
  /** Put every key under `${namespace}/`; deleted after the file. */
  readonly namespace: string;
  /** A new etcd3 client on that etcd (from `beforeAll` on), closed after the file. */
  client(options?: Partial<IOptions>): Etcd3;
}

/** What a flavour's `describe` body gets. */
export interface GoSuite {
  readonly flavour: GoFlavour;
  readonly etcd: FlavourEtcd;
  readonly go: GoHelper;
}

async function serverVersion(endpoint: string): Promise<string | undefined> {
  try {
    const response = await fetch(`http://${endpoint}/version`, { signal: AbortSignal.timeout(5_000) });
    return ((await response.json()) as { etcdserver?: string }).etcdserver;
  } catch {
    return undefined;
  }
}

function useFlavourEtcd(flavour: GoFlavour): FlavourEtcd {
  const shared = useTestEtcd();
  let endpoints: string[] | undefined;
  let own: EtcdServer | undefined;
  const clients: Etcd3[] = [];

  beforeAll(async () => {
    if ((await serverVersion(shared.endpoints[0]!)) === flavour.etcdVersion) {
      endpoints = shared.endpoints;
    } else {
      own = await startEtcd({ name: `interop-${flavour.id}`, etcdBin: flavourEtcdBinary(flavour)! });
      endpoints = own.endpoints;
    }
  }, 60_000);
  afterAll(async () => {
    // The shared etcd's namespace is cleaned by useTestEtcd(); a private etcd goes away whole.
    for (const client of clients.splice(0)) client.close();
    await own?.close();
  });

  const ready = (): string[] => {
    if (endpoints === undefined)
      throw new Error("the flavour's etcd is not started yet (use it from a hook)");
    return endpoints;
  };
  return {
    get endpoints() {
      return ready();
    },
    namespace: shared.namespace,
    client(options: Partial<IOptions> = {}) {
      if (own === undefined) return shared.client(options);
      const client = new Etcd3({ ...options, hosts: options.hosts ?? ready() });
      clients.push(client);
      return client;
    },
  };
}

function useGoHelper(flavour: GoFlavour): GoHelper {
  let binary: string | undefined;
  beforeAll(async () => {
    const built = await buildGoHelper(flavour);
    // The build must be the flavour it claims: etcd's own version constant, grpc-go's, the Go runtime.
    const version = (await runGoOk(built, ["version"])) as Record<string, string>;
    const { etcd, grpc, go } = version;
    const goRelease = /^go(\d+\.\d+)/.exec(go ?? "")?.[1];
    if (etcd !== flavour.etcdVersion || grpc !== flavour.expected.grpc || goRelease !== flavour.expected.go) {
      throw new Error(`the ${flavour.id} helper reports ${JSON.stringify(version)}`);
    }
    binary = built;
  }, BUILD_TIMEOUT_MS);
  afterEach(killAllGo);
  afterAll(killAllGo);
  return {
    get binary() {
      if (binary === undefined)
        throw new Error("the Go helper is not built yet (use it from a test or hook)");
      return binary;
    },
  };
}

/**
 * Declares `title` once per Go flavour, as `title (Go: etcd <version>)`, skipped with the install command
 * when the flavour is missing here. The body sets up its hooks and tests as a `describe` body would.
 */
export function describeGoFlavours(
  title: string,
  options: { timeout: number },
  body: (suite: GoSuite) => void,
): void {
  for (const flavour of GO_FLAVOURS) {
    describe.skipIf(skipReasons.get(flavour.id) !== undefined)(
      `${title} (Go: etcd ${flavour.etcdVersion})`,
      options,
      () => {
        const etcd = useFlavourEtcd(flavour);
        const go = useGoHelper(flavour);
        body({ flavour, etcd, go });
      },
    );
  }
}

/** Runs a helper command that takes the flavour's etcd and a service; resolves with its JSON output. */
function runGoOnService(
  suite: Pick<GoSuite, "etcd" | "go">,
  command: string,
  service: string,
  ...args: string[]
): Promise<unknown> {
  const endpoints = suite.etcd.endpoints.join(",");
  return runGoOk(suite.go.binary, [command, "-endpoints", endpoints, "-service", service, ...args]);
}

/**
 * What etcd's Go resolver hands to grpc-go for `service` on the flavour's etcd: the helper's `resolve`
 * command (the resolver's first state, recorded, no channel).
 */
export function runGoResolve(suite: Pick<GoSuite, "etcd" | "go">, service: string): Promise<unknown> {
  return runGoOnService(suite, "resolve", service);
}

/**
 * Runs the helper's `manager` command (etcd's Go endpoints.Manager) on `service` against the flavour's
 * etcd: `op` is `list`, `add` or `delete`, `request` its JSON argument. Resolves with its JSON output.
 */
export function runGoManager(
  suite: Pick<GoSuite, "etcd" | "go">,
  service: string,
  op: string,
  request?: unknown,
): Promise<unknown> {
  return runGoOnService(
    suite,
    "manager",
    service,
    op,
    ...(request === undefined ? [] : [JSON.stringify(request)]),
  );
}

/**
 * The helper's flags for a Go channel that calls `etcd:///<service>` on the flavour's etcd every `interval`,
 * with the service (slashes as dots) as :authority: grpc-go 1.33 sends a nested service name as :authority,
 * which Node servers refuse (see test 3).
 */
export function goChannelArgs(etcd: FlavourEtcd, service: string, interval: string): string[] {
  return [
    "-endpoints",
    etcd.endpoints.join(","),
    "-target",
    `etcd:///${service}`,
    "-authority",
    service.replaceAll("/", "."),
    "-interval",
    interval,
  ];
}
