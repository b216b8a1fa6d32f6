/** Environment variable naming an external etcd (`host:port,host:port`) for the test run. */
export const ENDPOINTS_ENV = "ETCD_NAMING_TEST_ENDPOINTS";

/** The key under which the global setup `provide`s the shared endpoints. */
export const ENDPOINTS_KEY = "etcdEndpoints";

/** Splits a comma-separated endpoint list; `http://` prefixes are dropped since etcd3 adds its own. */
export function parseEndpoints(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(",")
    .map((s) => s.trim().replace(/^https?:\/\//, ""))
    .filter((s) => s !== "");
}
