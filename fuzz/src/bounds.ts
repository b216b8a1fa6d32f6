// Numbers at and beyond the limits of every numeric option, and the process warnings that betray a timer
// Node could not honour (a delay above 2^31-1 ms fires after 1 ms, with a TimeoutOverflowWarning).
import fc from "fast-check";

/** The largest delay Node's timers honour. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Values that have broken numeric options somewhere: zero, signs, fractions, 32-bit and 53-bit edges, non-finite. */
export const EDGE_NUMBERS: readonly number[] = [
  0,
  -0,
  1,
  -1,
  0.5,
  1e-9,
  2,
  3,
  100,
  1000,
  MAX_TIMER_MS,
  MAX_TIMER_MS + 1,
  2 ** 32,
  2 ** 53 - 1,
  2 ** 53,
  1e21,
  Number.MAX_VALUE,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  Number.NaN,
];

/** An edge value, a random double, or a random integer across the whole safe range. */
export const numberArb: fc.Arbitrary<number> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...EDGE_NUMBERS) },
  { weight: 1, arbitrary: fc.double() },
  { weight: 1, arbitrary: fc.integer({ min: -10, max: 5_000 }) },
  { weight: 1, arbitrary: fc.maxSafeInteger() },
);

/** `numberArb`, or the option left out. */
export const optionalNumber = fc.option(numberArb, { nil: undefined, freq: 3 });

/** Collects the process warnings emitted while it is active (`TimeoutOverflowWarning` among them). */
export function collectWarnings(): { warnings: string[]; stop(): Promise<void> } {
  const warnings: string[] = [];
  const listener = (warning: Error) => warnings.push(`${warning.name}: ${warning.message.split("\n")[0]}`);
  process.on("warning", listener);
  return {
    warnings,
    // Node emits a warning on a later tick than the setTimeout that caused it: let those arrive first.
    stop: async () => {
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      process.off("warning", listener);
    },
  };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Drops undefined fields, for exactOptionalPropertyTypes. */
export function defined<T extends object>(value: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}

/** Polls `condition` every 10 ms until it holds or `ms` pass; resolves to whether it held. */
export async function waitFor(condition: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await sleep(10);
  }
  return true;
}
