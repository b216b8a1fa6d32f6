import type { Dispatcher } from "undici/index.js";

/**
 * A request handler as undici hands it to a dispatcher: the callback style (`onConnect`, …, `onError`) that
 * `request()` and the fetch of Node 22 and 24 use, or the controller style (`onRequestStart`, …,
 * `onResponseError`) of newer callers.
 */
export type AnyHandler = Dispatcher.DispatchHandler & {
  onError?: (error: Error) => void;
  onResponseError?: (controller: unknown, error: Error) => void;
};

/** Ends a request that never reached a server with `error`, in whichever style its handler speaks. */
export function failRequest(handler: AnyHandler, error: Error): void {
  if (typeof handler.onError === "function") {
    handler.onError(error);
    return;
  }
  // What undici itself does for a request that fails before it starts: no controller has been handed out.
  handler.onResponseError?.(undefined, error);
}

/** Errors that mean the request never left this process: another endpoint may take it. */
const NOT_SENT = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_CONNECT_TIMEOUT",
]);

/**
 * Wraps a callback-style handler so that a request whose connection could not be made (the endpoint died
 * and its key has not expired yet) goes to another endpoint instead of failing: it never reached a
 * server, so sending it again is safe whatever its method. `retry` dispatches it again and returns false
 * when no attempt is left. A controller-style handler is returned as it is.
 */
export function retryUnsent(handler: AnyHandler, retry: (handler: AnyHandler) => boolean): AnyHandler {
  const inner = handler as Record<string, unknown> & AnyHandler;
  if (typeof inner.onError !== "function" || typeof inner.onRequestStart === "function") return handler;
  let connected = false;
  const wrapper: Record<string, unknown> = {};
  for (const name of [
    "onConnect",
    "onUpgrade",
    "onHeaders",
    "onResponseStarted",
    "onData",
    "onComplete",
    "onBodySent",
    "onRequestSent",
  ]) {
    const method = inner[name];
    if (typeof method !== "function") continue;
    wrapper[name] = (...args: unknown[]) => {
      if (name === "onConnect") connected = true;
      return (method as (...a: unknown[]) => unknown).apply(inner, args);
    };
  }
  wrapper.onError = (error: Error) => {
    const code = (error as { code?: unknown }).code;
    if (!connected && typeof code === "string" && NOT_SENT.has(code) && retry(wrapper as AnyHandler)) return;
    inner.onError!(error);
  };
  return wrapper as AnyHandler;
}
