import { usageError } from "./cli-error.js";

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a duration the way etcdctl spells it (`500ms`, `2s`, `1m30s`); a bare number means seconds.
 * Returns milliseconds; throws a usage error naming the flag otherwise.
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
  if (!Number.isFinite(ms) || ms <= 0) {
    throw usageError(`invalid ${flag} "${text}": must be greater than zero`);
  }
  return Math.round(ms);
}
