import { usageError } from "./cli-error.js";

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * The longest duration a flag takes: a day. Every timer derived from a duration stays far below the
 * 2^31-1 ms past which Node fires a timer after 1 ms instead (with a TimeoutOverflowWarning).
 */
export const MAX_DURATION_MS: number = 24 * 3_600_000;

/**
 * Parses a duration the way etcdctl spells it (`500ms`, `2s`, `1m30s`); a bare number means seconds.
 * Returns whole milliseconds from 1 ms to {@link MAX_DURATION_MS}; throws a usage error naming the flag
 * otherwise.
 */
export function parseDuration(flag: string, text: string): number {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return checked(flag, text, Number(trimmed) * 1000);
  const parts = [...trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== trimmed) {
    throw usageError(`invalid ${flag} "${text}": expected a duration such as 500ms, 2s or 1m`);
  }
  let total = 0;
  for (const [, amount, unit] of parts) total += Number(amount) * (UNIT_MS[unit ?? "s"] ?? 1000);
  return checked(flag, text, total);
}

function checked(flag: string, text: string, ms: number): number {
  if (Number.isNaN(ms) || ms <= 0) {
    throw usageError(`invalid ${flag} "${text}": must be greater than zero`);
  }
  if (ms > MAX_DURATION_MS) throw usageError(`invalid ${flag} "${text}": must be at most 24h`);
  const rounded = Math.round(ms);
  if (rounded < 1) throw usageError(`invalid ${flag} "${text}": must be at least 1ms`);
  return rounded;
}
