import { CliError } from "./cli-error.js";
import type { TextSink } from "./output.js";

/** Questions the CLI asks a person at a terminal; injected so tests never need one. */
export interface Prompter {
  /** Reads a line without echoing it. */
  password(question: string): Promise<string>;
  /** A yes/no question; anything but y/yes is no. */
  confirm(question: string): Promise<boolean>;
}

/** The subset of a TTY read stream the prompts use. */
export interface PromptInput {
  setEncoding(encoding: BufferEncoding): unknown;
  resume(): unknown;
  pause(): unknown;
  on(event: "data" | "end", listener: (chunk: string) => void): unknown;
  off(event: "data" | "end", listener: (chunk: string) => void): unknown;
  setRawMode?: (mode: boolean) => unknown;
}

/** Prompts on the terminal: the question goes to stderr, the answer comes from stdin. */
export function terminalPrompter(stdin: PromptInput, stderr: TextSink): Prompter {
  return {
    async password(question) {
      stderr.write(question);
      try {
        return await readLine(stdin, true);
      } finally {
        // Raw mode swallowed the Enter key's echo.
        stderr.write("\n");
      }
    },
    async confirm(question) {
      stderr.write(question);
      const answer = (await readLine(stdin, false)).trim().toLowerCase();
      return answer === "y" || answer === "yes";
    },
  };
}

function readLine(stdin: PromptInput, hidden: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const raw = hidden && typeof stdin.setRawMode === "function";
    let chars: string[] = [];
    const finish = (error: Error | undefined): void => {
      stdin.off("data", onData);
      stdin.off("end", onEnd);
      if (raw) stdin.setRawMode?.(false);
      stdin.pause();
      if (error) reject(error);
      else resolve(chars.join(""));
    };
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === "\r" || ch === "\n" || ch === "\u0004") {
          finish(undefined);
          return;
        }
        if (ch === "\u0003") {
          finish(new CliError("ABORTED", "interrupted"));
          return;
        }
        if (raw && (ch === "\u007f" || ch === "\b")) {
          chars = chars.slice(0, -1);
          continue;
        }
        chars.push(ch);
      }
    };
    const onEnd = (): void => finish(undefined);
    if (raw) stdin.setRawMode?.(true);
    stdin.setEncoding("utf8");
    stdin.on("data", onData);
    stdin.on("end", onEnd);
    stdin.resume();
  });
}
