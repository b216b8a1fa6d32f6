import type { GrpcEndpoint } from "./select.js";
import { type PolicyServiceConfig, serviceConfigFor } from "./service-config.js";

/** gRPC's UNAVAILABLE status code. */
const UNAVAILABLE = 14;

/** A status object as grpc-js's resolver listeners take it. */
export interface ResolutionStatus {
  code: number;
  details: string;
  metadata: unknown;
}

/** grpc-js 1.14+: one function taking `StatusOr` values. */
export type FunctionListener = (
  endpoints: { ok: true; value: GrpcEndpoint[] } | { ok: false; error: ResolutionStatus },
  attributes: Record<string, unknown>,
  serviceConfig: { ok: true; value: PolicyServiceConfig } | null,
  resolutionNote: string,
) => boolean | undefined;

/** grpc-js 1.10–1.13: an object with two callbacks. */
export interface ObjectListener {
  onSuccessfulResolution(
    endpoints: GrpcEndpoint[],
    serviceConfig: PolicyServiceConfig | null,
    serviceConfigError: ResolutionStatus | null,
    configSelector: null,
    attributes: Record<string, unknown>,
  ): void;
  onError(error: ResolutionStatus): void;
}

/** The three things a resolver tells its channel, independent of the grpc-js version. */
export interface ResolutionSink {
  readonly shape: "function" | "object";
  /** A non-empty endpoint list and the service config to use (`null`: the channel's own). */
  endpoints(endpoints: GrpcEndpoint[], serviceConfig: PolicyServiceConfig | null): void;
  /** The service has no endpoints on purpose: calls fail with `note` in their status details. */
  empty(note: string): void;
  /**
   * Says again that the service has no endpoints, to a channel that was told so by `empty` but may have
   * lost it: only the failure, so a policy that holds no endpoints fails its calls again.
   */
  stillEmpty(note: string): void;
  /** Resolution failed and there is nothing to fall back on (`serviceConfig` as for `endpoints`). */
  error(details: string, serviceConfig: PolicyServiceConfig | null): void;
}

function isObjectListener(listener: unknown): listener is ObjectListener {
  return (
    typeof listener === "object" &&
    listener !== null &&
    typeof (listener as ObjectListener).onSuccessfulResolution === "function" &&
    typeof (listener as ObjectListener).onError === "function"
  );
}

/**
 * Wraps whichever listener shape this grpc-js passes. `newMetadata` builds that copy's `Metadata`, which
 * its call path expects inside status objects.
 */
export function adaptListener(listener: unknown, newMetadata: () => unknown): ResolutionSink {
  const status = (details: string): ResolutionStatus => ({
    code: UNAVAILABLE,
    details,
    metadata: newMetadata(),
  });
  // An empty list is always sent with round_robin: pick_first rejects it (1.14) or throws (1.10).
  const emptyConfig = serviceConfigFor("round_robin");

  if (typeof listener === "function") {
    const call = listener as FunctionListener;
    return {
      shape: "function",
      endpoints: (endpoints, serviceConfig) => {
        call({ ok: true, value: endpoints }, {}, serviceConfig && { ok: true, value: serviceConfig }, "");
      },
      // round_robin turns an empty list into an idle policy with no children (1.14 overrides its own
      // "no addresses" failure with that idle state, so calls would just queue); an error reported to a
      // policy without children then becomes the failing picker, with the note as the calls' details.
      empty: (note) => {
        call({ ok: true, value: [] }, {}, { ok: true, value: emptyConfig }, note);
        call({ ok: false, error: status(note) }, {}, { ok: true, value: emptyConfig }, note);
      },
      stillEmpty: (note) => {
        call({ ok: false, error: status(note) }, {}, { ok: true, value: emptyConfig }, note);
      },
      error: (details, serviceConfig) => {
        call(
          { ok: false, error: status(details) },
          {},
          serviceConfig && { ok: true, value: serviceConfig },
          details,
        );
      },
    };
  }
  if (isObjectListener(listener)) {
    return {
      shape: "object",
      endpoints: (endpoints, serviceConfig) => {
        listener.onSuccessfulResolution(endpoints, serviceConfig, null, null, {});
      },
      // 1.10's resolving balancer only reports a resolver error while its child policy is idle: the empty
      // list idles round_robin first, so the error that follows reaches failing calls.
      empty: (note) => {
        listener.onSuccessfulResolution([], emptyConfig, null, null, {});
        listener.onError(status(note));
      },
      stillEmpty: (note) => {
        listener.onError(status(note));
      },
      error: (details) => {
        listener.onError(status(details));
      },
    };
  }
  throw new TypeError(
    "unsupported grpc-js resolver listener: expected a function or onSuccessfulResolution/onError",
  );
}
