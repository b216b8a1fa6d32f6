import type { Etcd3 } from "etcd3";
import type { ConnectionSettings } from "./connection.js";
import type { Output, TtyState } from "./output.js";
import type { Prompter } from "./prompt.js";

/** What a command needs from the process around it; built fresh for every run. */
export interface CommandContext {
  readonly out: Output;
  readonly env: Record<string, string | undefined>;
  readonly tty: TtyState;
  readonly prompter: Prompter;
  readonly settings: ConnectionSettings;
  /** Asks for a missing password, connects with a spinner and checks etcd answers; closed after the run. */
  connect(): Promise<Etcd3>;
  /** Aborted on SIGINT/SIGTERM (or the injected signal); only long-running commands listen. */
  interrupted(): AbortSignal;
}
