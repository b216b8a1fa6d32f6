// Runs the CLI from its sources (`node --conditions=@etcd-naming/source --import tsx src/main.ts`), for a
// development loop without builds. The published bin runs the build instead.
import { main } from "./main-entry.js";

await main();
