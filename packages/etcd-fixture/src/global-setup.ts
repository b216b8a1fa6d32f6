import type { EtcdServer } from "./etcd-server.js";
import { startEtcd } from "./etcd-server.js";
import { ENDPOINTS_ENV, ENDPOINTS_KEY, parseEndpoints } from "./shared-etcd.js";

/**
 * The part of vitest's `TestProject` the setup uses. Typed structurally so this entry needs no
 * vitest types: vitest passes the root `TestProject`, whose `provide` accepts this key once the
 * `ProvidedContext` augmentation from `@etcd-naming/etcd-fixture/vitest` is loaded.
 */
export interface ProvidingProject {
  provide(key: typeof ENDPOINTS_KEY, value: string[]): void;
}

/**
 * Vitest global setup: one etcd for the whole `vitest run`, provided to every project as
 * `etcdEndpoints`. List it in the root config only; projects inherit what the root provides.
 * With `ETCD_NAMING_TEST_ENDPOINTS` set, that etcd is used and nothing is started.
 */
export default async function setup(project: ProvidingProject): Promise<() => Promise<void>> {
  const external = parseEndpoints(process.env[ENDPOINTS_ENV]);
  if (external.length > 0) {
    project.provide(ENDPOINTS_KEY, external);
    return async () => {};
  }
  const server: EtcdServer = await startEtcd({ name: "vitest-shared" });
  // Which etcd and Node a run tested belongs in its log: the suite runs on several of each.
  console.log(
    `shared etcd ${server.version} on ${server.endpoints.join(",")}, tests on Node ${process.version}`,
  );
  project.provide(ENDPOINTS_KEY, server.endpoints);
  // Anything else started in this run (a per-project setup, a worker) sees the same server
  // through the environment instead of starting a second one.
  process.env[ENDPOINTS_ENV] = server.endpoints.join(",");
  return async () => {
    delete process.env[ENDPOINTS_ENV];
    await server.close();
  };
}
