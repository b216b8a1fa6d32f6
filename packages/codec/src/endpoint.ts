/**
 * The operation of an {@link Update}, numbered as Go's `endpoints.Operation` (and gRPC's old
 * `naming.Operation`), which is what the `Op` field of a stored value holds.
 */
export const Operation: { readonly Add: 0; readonly Delete: 1 } = Object.freeze({ Add: 0, Delete: 1 });
export type Operation = 0 | 1;

/** One address of a service, with optional metadata (any JSON value). */
export interface Endpoint {
  addr: string;
  metadata?: unknown;
}

/** A change to a service's endpoint set: `endpoint` is present for `Add`, absent for `Delete`. */
export interface Update {
  op: Operation;
  key: string;
  endpoint?: Endpoint;
}
