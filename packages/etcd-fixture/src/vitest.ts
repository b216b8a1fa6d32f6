import { randomBytes } from "node:crypto";
import { Etcd3, type IOptions } from "etcd3";
import { afterAll, inject } from "vitest";
import { EtcdFixtureError } from "./errors.js";
import { ENDPOINTS_ENV, ENDPOINTS_KEY, parseEndpoints } from "./shared-etcd.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** Endpoints (`host:port`) of the test run's shared etcd, from the fixture's global setup. */
    etcdEndpoints: string[];
  }
}

/** The test run's shared etcd as seen by one test file. */
export interface TestEtcd {
  /** The shared server's `host:port` endpoints. */
  readonly endpoints: string[];
  /** Unique per test file, without a slash (`t-3f9a1c2b`); put every key under `${namespace}/`. */
  readonly namespace: string;
  /** A new etcd3 client on the shared server (override any option); closed in `afterAll`. */
  client(options?: Partial<IOptions>): Etcd3;
}

const CLEANUP_TIMEOUT_MS = 5_000;

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms}ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Binds a test file to the run's shared etcd (started by the fixture's global setup). Call it at
 * the top level of the file: it registers an `afterAll` that deletes every key under
 * `${namespace}/` and closes the clients it handed out. Never stop or pause the shared server;
 * tests that break etcd start their own with `startEtcd()`.
 *
 * @example
 * ```ts
 * const etcd = useTestEtcd();
 * it("registers", async () => {
 *   await etcd.client().put(`${etcd.namespace}/svc/a`).value("x");
 * });
 * ```
 */
export function useTestEtcd(): TestEtcd {
  let endpoints = inject(ENDPOINTS_KEY);
  if (!Array.isArray(endpoints) || endpoints.length === 0)
    endpoints = parseEndpoints(process.env[ENDPOINTS_ENV]);
  if (endpoints.length === 0) {
    throw new EtcdFixtureError(
      "NO_SHARED_ETCD",
      `no shared etcd: add "@etcd-naming/etcd-fixture" global-setup to the vitest config or set ${ENDPOINTS_ENV}`,
    );
  }
  const shared = [...endpoints];
  const namespace = `t-${randomBytes(4).toString("hex")}`;
  const clients: Etcd3[] = [];

  afterAll(async () => {
    const cleaner = new Etcd3({ hosts: shared, dialTimeout: 2_000 });
    try {
      await withTimeout(
        cleaner.delete().prefix(`${namespace}/`).exec(),
        CLEANUP_TIMEOUT_MS,
        `deleting ${namespace}/ on the shared etcd`,
      );
    } finally {
      // etcd3's close() is synchronous (it tears the channels down); a throw must not leave the rest open.
      for (const client of [...clients.splice(0), cleaner]) {
        try {
          client.close();
        } catch {
          // Closing twice (the test closed it) is fine.
        }
      }
    }
  }, CLEANUP_TIMEOUT_MS + 5_000);

  return Object.freeze({
    endpoints: Object.freeze([...shared]) as string[],
    namespace,
    client(options: Partial<IOptions> = {}): Etcd3 {
      const client = new Etcd3({ ...options, hosts: options.hosts ?? shared });
      clients.push(client);
      return client;
    },
  });
}
