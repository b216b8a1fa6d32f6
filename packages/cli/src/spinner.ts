import type { TextSink } from "./output.js";

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/**
 * A one-line spinner on a terminal while something slow happens (connecting to etcd). Returns the function
 * that erases it; does nothing at all when disabled, so pipes and logs never see control characters.
 */
export function startSpinner(sink: TextSink, enabled: boolean, text: string, intervalMs = 80): () => void {
  if (!enabled) return () => {};
  let frame = 0;
  const draw = (): void => {
    sink.write(`\r${FRAMES[frame % FRAMES.length]} ${text}\u001b[K`);
    frame += 1;
  };
  draw();
  const timer = setInterval(draw, intervalMs);
  // The spinner must never be the reason the process stays alive.
  timer.unref();
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    sink.write("\r\u001b[K");
  };
}
