import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { fixtureStateDir, isProcessAlive, registerPortLock, unregisterPortLock } from "./cleanup.js";
import { EtcdFixtureError } from "./errors.js";

/** Ports held for one server; `release()` frees them for other starts. */
export interface PortReservation {
  readonly ports: number[];
  release(): void;
}

// Ports come from just below the kernel's ephemeral range. Outgoing connections take their
// local port from that range, so a client socket can never grab an etcd port while the server
// is stopped between `stop()` and `start()`.
function candidateRange(): [number, number] {
  let low = 32768;
  try {
    const [first] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/);
    const parsed = Number(first);
    if (Number.isInteger(parsed) && parsed > 4096) low = parsed;
  } catch {
    // Not Linux: keep the IANA default.
  }
  return [Math.max(1024, low - 12000), low];
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen({ host: "127.0.0.1", port, exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}

// Another test process may be picking ports at the same moment; an exclusive-create lock file
// per port settles who gets it. A lock whose owner is gone is stale and may be taken over.
function tryLock(port: number): string | undefined {
  const dir = join(fixtureStateDir(), "ports");
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${port}.lock`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, String(process.pid), { flag: "wx" });
      registerPortLock(path);
      return path;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") return undefined;
      let owner = Number.NaN;
      try {
        owner = Number(readFileSync(path, "utf8"));
      } catch {
        continue;
      }
      if (!Number.isInteger(owner) || owner <= 0 || isProcessAlive(owner)) return undefined;
      try {
        unlinkSync(path);
      } catch {
        // Someone else took it over first.
      }
    }
  }
  return undefined;
}

function unlock(path: string): void {
  unregisterPortLock(path);
  try {
    unlinkSync(path);
  } catch {
    // Already removed by a sweep.
  }
}

/**
 * Reserves `count` distinct free loopback ports: each one is locked against other processes,
 * then bind-tested. Ports stay reserved until `release()`, so a stopped server can restart on them.
 */
export async function reservePorts(count: number, maxAttempts: number = 200): Promise<PortReservation> {
  const [low, high] = candidateRange();
  const locks: string[] = [];
  const ports: number[] = [];
  const release = (): void => {
    for (const lock of locks.splice(0)) unlock(lock);
  };
  for (let attempt = 0; ports.length < count && attempt < maxAttempts; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (ports.includes(port)) continue;
    const lock = tryLock(port);
    if (lock === undefined) continue;
    if (await canBind(port)) {
      locks.push(lock);
      ports.push(port);
    } else {
      unlock(lock);
    }
  }
  if (ports.length < count) {
    release();
    throw new EtcdFixtureError(
      "NO_FREE_PORT",
      `could not find ${count} free loopback ports in ${low}-${high}`,
    );
  }
  return { ports, release };
}
