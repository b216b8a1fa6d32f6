// The undici this package runs on. Bun answers `import "undici"` and `require("undici")` with a built-in
// module of its own, whose request() and fetch() ignore a dispatcher and whose Agent and Pool have no
// dispatch(); it does not redirect a path inside the package, so `undici/index.js` loads the npm undici on
// Bun too. On Node.js and Deno it is the very module `import "undici"` gives (the package's main file), so
// classes and the global dispatcher are shared with the application's undici.
export { Agent, BalancedPool, Dispatcher, fetch, request } from "undici/index.js";
