// Loaded with `--import` before anything else: makes every `@opentelemetry/*` import fail as if the
// packages were not installed, so a child process shows the packages running without them.
import { register } from "node:module";

const hooks = `
export async function resolve(specifier, context, nextResolve) {
  if (specifier.startsWith("@opentelemetry/")) {
    const error = new Error("Cannot find package '" + specifier + "' (hidden by the test)");
    error.code = "ERR_MODULE_NOT_FOUND";
    throw error;
  }
  return nextResolve(specifier, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);
