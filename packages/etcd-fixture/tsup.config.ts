import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts", "src/vitest.ts", "src/global-setup.ts"],
  // vitest and etcd3 come from the consumer; only the "./vitest" entry touches them.
  external: ["vitest", "vitest/node", "etcd3"],
  format: ["esm", "cjs"],
  dts: { compilerOptions: { isolatedDeclarations: true } },
  tsconfig: "tsconfig.build.json",
  target: "node22",
  platform: "node",
  sourcemap: true,
  clean: true,
  splitting: false,
  treeshake: true,
});
