export type { Cli, CliOptions } from "./cli.js";
export { createCli } from "./cli.js";
export type { CliErrorCode } from "./cli-error.js";
export { CliError } from "./cli-error.js";
export { main } from "./main-entry.js";
export type { TextSink, TtyState } from "./output.js";
export type { Prompter, PromptInput } from "./prompt.js";
