import { packageBuild } from "../../tsup.preset.js";

export default packageBuild({
  entry: ["src/index.ts", "src/vitest.ts", "src/global-setup.ts"],
  // vitest and etcd3 come from the consumer; only the "./vitest" entry touches them.
  external: ["vitest", "vitest/node", "etcd3"],
});
