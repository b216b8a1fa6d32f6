import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts"],
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
