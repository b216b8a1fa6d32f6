// The CommonJS half of the runtime smoke test (see smoke.mjs): require() every public package, check that
// require and import give the same exports (one dual package, not two APIs), and make a real round trip
// through etcd with the required copies: register with the registrar, see it with the watcher, recording
// into a global MeterProvider while @opentelemetry/api is not installed.
const { Etcd3 } = require("etcd3");

const { env } = process;
const PACKAGES = ["codec", "etcd", "watcher", "grpc-js", "registrar", "cli", "undici", "connect"];
const endpoints = (env["ETCD_ENDPOINTS"] || "").split(",").filter(Boolean);
const service = `${env["SMOKE_SERVICE"] || "smoke"}-cjs`;
const required = {};
/** The instruments made on the stand-in global MeterProvider, as `<scope> <name>`. */
const instruments = new Set();

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

(async () => {
  const { runChecks, within } = await import("./checks.mjs");
  await runChecks([
    [
      "cjs: require every package from dist/index.cjs",
      () => {
        for (const name of PACKAGES) {
          const id = `@etcd-naming/${name}`;
          const path = require.resolve(id);
          assert(/[\\/]dist[\\/]index\.cjs$/.test(path), `${id} resolved to ${path}`);
          required[name] = require(id);
        }
        return PACKAGES.map((name) => `${name}: ${Object.keys(required[name]).length} exports`);
      },
    ],
    [
      "cjs: require and import expose the same exports",
      async () => {
        for (const name of PACKAGES) {
          const imported = await import(`@etcd-naming/${name}`);
          const esm = Object.keys(imported)
            .filter((k) => k !== "default" && k !== "module.exports")
            .sort();
          const cjs = Object.keys(required[name] || {}).sort();
          assert(esm.join() === cjs.join(), `${name}: import gives ${esm.join()}, require ${cjs.join()}`);
        }
      },
    ],
    [
      "cjs: without @opentelemetry/api installed, a MeterProvider registered as the API registers it",
      () => {
        let installed = true;
        try {
          require.resolve("@opentelemetry/api");
        } catch {
          installed = false;
        }
        assert(!installed, "@opentelemetry/api is installed: the smoke app must not have it");
        // What metrics.setGlobalMeterProvider() of @opentelemetry/api 1.x stores; the next check's
        // registration and watcher record into it.
        globalThis[Symbol.for("opentelemetry.js.api.1")] = {
          version: "1.9.0",
          metrics: {
            getMeter(scope) {
              const instrument = (name) => {
                instruments.add(`${scope} ${name}`);
                return { add() {}, record() {}, addCallback() {}, removeCallback() {} };
              };
              return {
                createCounter: instrument,
                createHistogram: instrument,
                createObservableGauge: instrument,
                createObservableUpDownCounter: instrument,
              };
            },
          },
        };
      },
    ],
    [
      "cjs: register with the registrar, see it with the watcher",
      async () => {
        const { register } = required.registrar;
        const { createEtcd3Source, watchService } = required.watcher;
        const etcd = new Etcd3({ hosts: endpoints });
        const registration = await within(
          register({ client: etcd, service, addr: "127.0.0.1:9", ttl: 5 }),
          10_000,
          "register",
        );
        const watcher = watchService(createEtcd3Source(etcd), service);
        try {
          const addrs = await within(
            new Promise((resolve) =>
              watcher.on("update", ({ endpoints: list }) => {
                if (list.length > 0) resolve(list.map((e) => e.addr));
              }),
            ),
            10_000,
            "the watcher's first update",
          );
          assert(addrs.join() === "127.0.0.1:9", `saw ${addrs.join(",")}`);
          return registration.key;
        } finally {
          await within(watcher.close(), 5_000, "watcher.close");
          await within(registration.deregister(), 5_000, "deregister");
          etcd.close();
        }
      },
    ],
    [
      "cjs: the registrar and the watcher made their instruments on the global MeterProvider",
      () => {
        delete globalThis[Symbol.for("opentelemetry.js.api.1")];
        for (const wanted of [
          "@etcd-naming/registrar etcd_naming.registrar.leases",
          "@etcd-naming/watcher etcd_naming.service.endpoints",
          "@etcd-naming/watcher etcd_naming.watch.failovers",
        ]) {
          assert(instruments.has(wanted), `no ${wanted} among ${[...instruments].join(", ")}`);
        }
        return instruments.size;
      },
    ],
  ]);
})();
