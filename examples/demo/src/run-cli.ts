// Runs the `etcd-naming` CLI from its TypeScript source, for a checkout where it has not been built yet.
import { main } from "@etcd-naming/cli";

await main();
