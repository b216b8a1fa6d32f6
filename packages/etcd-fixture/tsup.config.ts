import { packageBuild } from "../../tsup.preset.js";

export default packageBuild({
  entry: ["src/index.ts", "src/vitest.ts", "src/global-setup.ts", "src/greeter.ts", "src/otel.ts"],
  // vitest, etcd3 and grpc-js come from the consumer; only the "./vitest" entry touches vitest and
  // only the "./greeter" entry grpc-js, and only "./otel" the OpenTelemetry SDK.
  external: ["vitest", "vitest/node", "etcd3", "@grpc/grpc-js", "@opentelemetry/sdk-metrics"],
});
