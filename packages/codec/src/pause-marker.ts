import { servicePrefix } from "./keys.js";
import { DEFAULT_MAX_BYTES } from "./limits.js";
import { decodeUtf8, utf8Length } from "./utf8.js";

// A paused endpoint has no key under its service (etcd's Go resolvers act on key presence only), so the
// pause is recorded beside it, in a marker key: `/etcd-naming/paused/<service>/<id>`, attached to the
// endpoint's lease so that it goes with the registration. The root starts with "/", which no service
// name may (`validateService`), so no service prefix `<service>/` covers a marker: neither our watcher
// nor the CLI's list of a service reads it, and neither does Go's resolver of any such service (etcd 3.4's
// reads the bare prefix `<service>`, which does not start with "/" either).

/** The root of every pause marker key. */
export const PAUSE_MARKER_ROOT = "/etcd-naming/paused/";

/** The marker key of an endpoint key: `svc/10.0.0.1:50051` → `/etcd-naming/paused/svc/10.0.0.1:50051`. */
export function pauseMarkerKey(endpointKey: string): string {
  return PAUSE_MARKER_ROOT + endpointKey;
}

/** The prefix of the markers of a service's endpoints (its nested services' too, as with keys). Validates the service. */
export function pauseMarkerPrefix(service: string): string {
  return PAUSE_MARKER_ROOT + servicePrefix(service);
}

/** The endpoint key a marker key stands for, or undefined when `markerKey` is not a marker key. */
export function endpointKeyOfMarker(markerKey: string): string | undefined {
  if (typeof markerKey !== "string" || !markerKey.startsWith(PAUSE_MARKER_ROOT)) return undefined;
  const key = markerKey.slice(PAUSE_MARKER_ROOT.length);
  return key === "" ? undefined : key;
}

/**
 * What a marker says. `paused`: the endpoint is out of rotation; `value` is its endpoint value (the one
 * its key holds when it is served), so a reader can show what is paused. `resumed`: another process asks
 * the registrar to put the key back (the registrar then deletes the marker).
 */
export type PauseMarker = { state: "paused"; value?: string | undefined } | { state: "resumed" };

/** The value of a marker: `{"state":"paused","value":"<endpoint value>"}` or `{"state":"resumed"}`. */
export function encodePauseMarker(marker: PauseMarker): string {
  if (marker.state === "resumed") return '{"state":"resumed"}';
  if (marker.value === undefined) return '{"state":"paused"}';
  return `{"state":"paused","value":${JSON.stringify(marker.value)}}`;
}

/**
 * Reads a marker value; undefined for anything that is not one (not JSON, no known `state`, a `value`
 * that is not a string, larger than 2 × 64 KiB). Never throws; the parsed JSON is only read.
 */
export function decodePauseMarker(value: string | Uint8Array): PauseMarker | undefined {
  const limit = 2 * DEFAULT_MAX_BYTES;
  let text: string;
  if (typeof value === "string") {
    if (utf8Length(value) > limit) return undefined;
    text = value;
  } else if (value instanceof Uint8Array) {
    if (value.byteLength > limit) return undefined;
    text = decodeUtf8(value);
  } else {
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return undefined;
  const state = Object.getOwnPropertyDescriptor(parsed, "state")?.value;
  if (state === "resumed") return { state };
  if (state !== "paused") return undefined;
  const endpoint = Object.getOwnPropertyDescriptor(parsed, "value")?.value;
  if (endpoint === undefined) return { state };
  return typeof endpoint === "string" ? { state, value: endpoint } : undefined;
}
