// "Untrusted data never touches Object.prototype": the built-in prototypes are snapshotted before a run
// and compared after it, property by property (added, removed or replaced).

const watched: Record<string, object> = {
  Object: Object.prototype,
  Array: Array.prototype,
  Function: Function.prototype,
  String: String.prototype,
  Number: Number.prototype,
  Boolean: Boolean.prototype,
  Map: Map.prototype,
  Set: Set.prototype,
  Promise: Promise.prototype,
  Error: Error.prototype,
};

export type PrototypeSnapshot = Map<string, Map<PropertyKey, PropertyDescriptor>>;

export function snapshotPrototypes(): PrototypeSnapshot {
  const snapshot: PrototypeSnapshot = new Map();
  for (const [name, proto] of Object.entries(watched)) {
    const own = new Map<PropertyKey, PropertyDescriptor>();
    for (const key of Reflect.ownKeys(proto)) own.set(key, Object.getOwnPropertyDescriptor(proto, key)!);
    snapshot.set(name, own);
  }
  return snapshot;
}

/** What differs from `before`, as `Object.prototype.polluted (added)` and the like. */
export function prototypeChanges(before: PrototypeSnapshot): string[] {
  const changes: string[] = [];
  for (const [name, proto] of Object.entries(watched)) {
    const old = before.get(name)!;
    const keys = new Set<PropertyKey>([...old.keys(), ...Reflect.ownKeys(proto)]);
    for (const key of keys) {
      const was = old.get(key);
      const now = Object.getOwnPropertyDescriptor(proto, key);
      const label = `${name}.prototype.${String(key)}`;
      if (was === undefined) changes.push(`${label} (added)`);
      else if (now === undefined) changes.push(`${label} (removed)`);
      else if (was.value !== now.value || was.get !== now.get || was.set !== now.set)
        changes.push(`${label} (replaced)`);
    }
  }
  if (Object.getPrototypeOf({}) !== Object.prototype) changes.push("the prototype of {} (replaced)");
  return changes;
}
