// Preloaded (`node --import`) into every CLI process the fuzzers start: the same loopback guard as in the
// test process, reporting what it refused to the file named by FUZZ_GUARD_LOG (one JSON line each), since
// the child's own output is what is under test.
import { appendFileSync } from "node:fs";
import { installLoopbackGuard } from "./loopback-guard.js";

const file = process.env["FUZZ_GUARD_LOG"];
installLoopbackGuard((kind, target) => {
  if (file !== undefined) appendFileSync(file, `${JSON.stringify({ kind, target, pid: process.pid })}\n`);
});
