// What a greeter server process and the demo tell each other over the IPC channel of `fork()`.

/** Server → demo. */
export type ServerMessage =
  | { type: "ready"; addr: string; key: string; leaseId: string; registeredAt: number }
  | { type: "draining"; at: number }
  | { type: "drained"; at: number };

/** Demo → server: deregister and stop at once (the end of the demo, no grace period). */
export type DemoMessage = { type: "stop" };
