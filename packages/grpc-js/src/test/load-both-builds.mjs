// Loads this package's ESM and CommonJS builds into one Node process, as two dependencies of an app can,
// registers through both and prints what each saw as JSON (read by dual-package.test.ts).
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const grpc = require("@grpc/grpc-js");
const esm = await import("@etcd-naming/grpc-js");
const cjs = require("@etcd-naming/grpc-js");
const { createMemorySource } = await import("@etcd-naming/watcher");
const codeOf = (action) => {
  try {
    action();
    return "none";
  } catch (error) {
    return error.code ?? error.message;
  }
};

const source = createMemorySource();
const other = createMemorySource();
const fromEsm = esm.registerEtcdResolver({ source });
const fromCjs = cjs.registerEtcdResolver({ source });
const conflict = codeOf(() => cjs.registerEtcdResolver({ source: other }));
await fromEsm.close();
// After the (one) registration closed, grpc-js's resolver for the scheme is a closed one, whichever build
// registered it last: a new channel fails to construct.
const newChannel = codeOf(() => new grpc.Client("etcd:///svc", grpc.credentials.createInsecure()).close());
const afterClose = cjs.registerEtcdResolver({ source: other });
await afterClose.close();
console.log(
  JSON.stringify({
    distinctModules: esm.registerEtcdResolver !== cjs.registerEtcdResolver,
    sameHandle: fromEsm === fromCjs,
    conflict,
    newChannel,
    registeredAfterClose: afterClose.scheme,
  }),
);
