/**
 * A lease id the way etcdctl prints and takes it (`%016x`: 16 hex digits, e.g. `694da20c8de24042`).
 * etcd3 and this package's API carry lease ids as decimal strings (they are 64-bit, too large for a
 * number); messages for people use this form, so an id can be pasted into `etcdctl lease timetolive`.
 *
 * @example
 * formatLeaseId("7587899121992876098"); // "694da20c8de24042"
 */
export function formatLeaseId(leaseId: string): string {
  // etcd never grants a negative id; the 64 bits are shown as they are should one appear.
  return BigInt.asUintN(64, BigInt(leaseId)).toString(16).padStart(16, "0");
}
