import { existsSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const root = fileURLToPath(new URL(".", import.meta.url));

// Workspace packages resolve to their TypeScript sources, so tests never wait for a build.
// `@etcd-naming/x` → packages/x/src/index.ts; `@etcd-naming/x/y` → packages/x/src/y.ts.
const alias = [
  { find: /^@etcd-naming\/([a-z0-9-]+)$/, replacement: `${root}packages/$1/src/index.ts` },
  { find: /^@etcd-naming\/([a-z0-9-]+)\/([a-z0-9-]+)$/, replacement: `${root}packages/$1/src/$2.ts` },
];

const project = (dir: string) => ({
  extends: false as const,
  resolve: { alias },
  test: {
    name: dir.replace(/^(packages|examples)\//, ""),
    root: `${root}${dir}`,
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    environment: "node",
  },
});

export default defineConfig({
  test: {
    // One shared etcd per run, started here on the root only: every project inherits what the
    // root provides (`inject("etcdEndpoints")`), so no project may list it again.
    globalSetup: [`${root}packages/etcd-fixture/src/global-setup.ts`],
    projects: [
      ...readdirSync(`${root}packages`).map((d) => project(`packages/${d}`)),
      ...readdirSync(`${root}examples`, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => project(`examples/${d.name}`)),
      // Private suites at the root: Go interop, reliability (chaos), security (TLS, auth, RBAC) and fuzz
      // (hostile input) tests.
      ...["interop", "reliability", "security", "fuzz"]
        .filter((d) => existsSync(`${root}${d}/package.json`))
        .map(project),
    ],
    passWithNoTests: false,
  },
});
