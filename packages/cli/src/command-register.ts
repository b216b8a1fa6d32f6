import {
  formatLeaseId,
  MIN_TTL_SECONDS,
  RegistrarError,
  type Registration,
  register,
} from "@etcd-naming/registrar";
import { CliError, usageError } from "./cli-error.js";
import { type EndpointOptions, endpointFromArgs, warnUndialable } from "./command-add.js";
import type { CommandContext } from "./context.js";
import { whenAborted, within } from "./interrupt.js";

export interface RegisterCommandOptions extends EndpointOptions {
  ttl?: string;
}

const DEFAULT_TTL = 10;

/**
 * The longest `--ttl`: the registrar waits up to one TTL on a timer, and Node fires a timer of more than
 * 2^31-1 ms after 1 ms instead (a keep-alive storm), so about 24.8 days.
 */
export const MAX_TTL_SECONDS: number = Math.floor((2 ** 31 - 1) / 1000);

function ttlArg(text: string | undefined): number {
  if (text === undefined) return DEFAULT_TTL;
  if (!/^\d+$/.test(text.trim()))
    throw usageError(`invalid --ttl "${text}": expected whole seconds, e.g. 10`);
  const digits = text.trim().replace(/^0+(?=\d)/, "");
  const ttl = Number(digits);
  if (ttl < MIN_TTL_SECONDS) {
    throw usageError(`invalid --ttl ${ttl}: etcd's minimum lease TTL is ${MIN_TTL_SECONDS}s`);
  }
  if (ttl > MAX_TTL_SECONDS) {
    // Shown as typed: a number this large loses digits as a double.
    throw usageError(`invalid --ttl ${digits}: must be at most ${MAX_TTL_SECONDS} seconds (about 24.8 days)`);
  }
  return ttl;
}

function registrarFailure(error: unknown): unknown {
  if (!(error instanceof RegistrarError)) return error;
  if (error.code === "INVALID_INPUT" || error.code === "KEY_OUTSIDE_SERVICE") {
    return usageError(error.message, { cause: error });
  }
  return new CliError("ETCD", error.message, { cause: error });
}

/**
 * `register`: puts the endpoint with a lease and keeps it alive (re-registering if the lease is lost) until
 * SIGINT/SIGTERM, then deletes the key and revokes the lease so clients drop it at once. `etcd-naming
 * pause`/`resume` from another shell take it out of rotation and back (printed as events).
 */
export async function registerCommand(
  ctx: CommandContext,
  service: string,
  addr: string,
  options: RegisterCommandOptions,
): Promise<number> {
  const { key, endpoint } = endpointFromArgs(service, addr, options);
  const ttl = ttlArg(options.ttl);
  const { out } = ctx;
  warnUndialable(out, service, addr);
  // Listen before connecting: a signal during start-up must still deregister, not kill the process.
  const interrupted = whenAborted(ctx.interrupted());
  const client = await ctx.connect();
  const emit = (event: string, fields: Record<string, unknown>, human: string): void => {
    out.record({ event, ...fields }, () => out.line(human));
  };

  const registering = register({
    client,
    service,
    addr,
    key,
    ttl,
    ...(endpoint.metadata !== undefined ? { metadata: endpoint.metadata } : {}),
    logger: { warn: (_fields, message) => out.warn(message) },
  });
  let first: { registration: Registration } | { signal: string };
  try {
    first = await Promise.race([
      registering.then((registration) => ({ registration })),
      interrupted.then((signal) => ({ signal })),
    ]);
  } catch (error) {
    throw registrarFailure(error);
  }
  if ("signal" in first) {
    // Interrupted before the first write landed: take back whatever the registrar manages to write.
    out.note(`${first.signal}: stopping before ${key} was registered`);
    const late = await within(
      registering.then((r) => r.deregister()),
      ctx.settings.commandTimeoutMs,
    ).catch(() => false);
    return late ? 0 : 1;
  }
  const { registration } = first;
  const lease = registration.leaseIdHex;
  emit(
    "registered",
    { key, addr, metadata: endpoint.metadata ?? null, lease, ttl },
    `${out.paint("green", "registered")} ${key} ${addr} with lease ${lease} (TTL ${ttl}s); ` +
      "Ctrl-C or SIGTERM deregisters",
  );
  registration.on("lost", (error) => {
    // Until the key is put again, the registration still names the lease that was lost.
    if (out.json) out.jsonLine({ event: "lost", key, lease: registration.leaseIdHex, reason: error.message });
    else out.warn(`lease lost for ${key}: ${error.message}`);
  });
  registration.on("reregistered", (leaseId) => {
    const hex = formatLeaseId(leaseId);
    emit(
      "reregistered",
      { key, lease: hex },
      `${out.paint("yellow", "re-registered")} ${key} with lease ${hex}`,
    );
  });
  registration.on("error", (error) => out.warn(`${key}: ${error.message}`));
  registration.on("paused", () =>
    emit(
      "paused",
      { key },
      `${out.paint("yellow", "paused")} ${key}: out of rotation, lease ${registration.leaseIdHex} kept`,
    ),
  );
  registration.on("resumed", () =>
    emit("resumed", { key }, `${out.paint("green", "resumed")} ${key}: served again`),
  );

  const signal = await interrupted;
  out.note(`${signal}: deregistering ${key}`);
  let failure: unknown;
  const done = await within(
    registration.deregister().catch((error: unknown) => {
      failure = error;
    }),
    ctx.settings.commandTimeoutMs,
  );
  if (!done || failure !== undefined) {
    const reason = failure instanceof Error ? failure.message : "timed out";
    throw new CliError(
      "ETCD",
      `could not deregister ${key} (${reason}); it disappears when lease ${lease} expires within ${ttl}s`,
      { cause: failure },
    );
  }
  emit("deregistered", { key }, `${out.paint("red", "deregistered")} ${key}`);
  return 0;
}
