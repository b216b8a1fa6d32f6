/**
 * Keeps the most recent output of a child process in memory, bounded by bytes, so a chatty or
 * long-lived etcd can never grow the test process without limit.
 */
export class LogBuffer {
  readonly #maxChars: number;
  #chunks: string[] = [];
  #size = 0;
  #dropped = false;

  constructor(maxChars: number = 256 * 1024) {
    this.#maxChars = Math.max(1, maxChars);
  }

  append(chunk: string): void {
    if (chunk.length === 0) return;
    const piece = chunk.length > this.#maxChars ? chunk.slice(-this.#maxChars) : chunk;
    if (piece !== chunk) this.#dropped = true;
    this.#chunks.push(piece);
    this.#size += piece.length;
    while (this.#size > this.#maxChars && this.#chunks.length > 1) {
      const oldest = this.#chunks.shift()!;
      this.#size -= oldest.length;
      this.#dropped = true;
    }
  }

  /** Everything still held, prefixed with a marker when older output was dropped. */
  text(): string {
    const body = this.#chunks.join("");
    return this.#dropped ? `[earlier output dropped]\n${body}` : body;
  }

  /** The last `lines` lines (default 20). */
  tail(lines: number = 20): string {
    return this.#lines().slice(-lines).join("\n");
  }

  /**
   * For error messages: the first `head` and last `tail` lines. etcd prints the reason for a bad
   * flag first and a long usage text after it, so the tail alone would hide the cause.
   */
  excerpt(head: number = 10, tail: number = 20): string {
    const lines = this.#lines();
    if (lines.length <= head + tail) return lines.join("\n");
    return [
      ...lines.slice(0, head),
      `[... ${lines.length - head - tail} lines ...]`,
      ...lines.slice(-tail),
    ].join("\n");
  }

  #lines(): string[] {
    const all = this.#chunks.join("").split("\n");
    if (all.at(-1) === "") all.pop();
    return all;
  }
}
