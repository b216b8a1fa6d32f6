// Helpers shared by this package's tests; excluded from the build.
import { NamingError } from "./naming-error.js";

/** The NamingError `fn` throws; fails when it throws anything else or nothing. */
export const thrown = (fn: () => unknown): NamingError => {
  try {
    fn();
  } catch (error) {
    if (error instanceof NamingError) return error;
    throw error;
  }
  throw new Error("expected a NamingError, nothing was thrown");
};
