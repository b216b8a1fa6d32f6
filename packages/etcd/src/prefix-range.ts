import { Range } from "etcd3";

/**
 * The end of etcd's range for every key starting with `prefix`: the prefix with its last byte below
 * 0xff incremented, or `\0` ("to the end of the keyspace") for an empty or all-0xff prefix. The one
 * computation of it, etcd3's `Range.prefix`.
 */
export function prefixRangeEnd(prefix: Buffer | string): Buffer {
  return Range.prefix(Buffer.from(prefix)).end;
}
