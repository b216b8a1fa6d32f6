import { isAttributeKey, NamingError, parseTarget, type Target } from "@etcd-naming/codec";
import { ResolverError } from "./errors.js";
import type { Preference } from "./weighting.js";

/**
 * The load-balancing policies a target or a registration may choose: grpc-js's `round_robin` and
 * `pick_first`, or `weighted` (this package's policy: calls split by the endpoints' `weight` attribute,
 * and `?prefer=`).
 */
export type LoadBalancingPolicy = "round_robin" | "pick_first" | "weighted";

export const POLICIES: readonly LoadBalancingPolicy[] = ["round_robin", "pick_first", "weighted"];

/** The parts of a channel target grpc-js hands to a resolver (its `GrpcUri`). */
export interface TargetUri {
  scheme?: string | undefined;
  authority?: string | undefined;
  path: string;
}

/** What an `etcd:///service?…` target asks for. */
export interface EtcdTarget {
  /** The service whose endpoints live under `<service>/` in etcd. */
  service: string;
  /** Metadata equality filters from the query (null prototype; never the reserved parameters). */
  filters: Record<string, string>;
  /** `?lb=`: overrides the registration's default policy. */
  policy?: LoadBalancingPolicy;
  /** `?subset=`: keep at most this many endpoints, chosen by rendezvous hashing. */
  subset?: number;
  /**
   * `?depth=`: keep keys at most this many levels below the service (1: `svc/id` only, not the keys of a
   * nested service `svc/sub/id`). Absent: every key under the prefix, as etcd's Go resolver reads it.
   */
  depth?: number;
  /** `?outlier=on|off`: outlier detection for this channel, over the registration's default. */
  outlier?: boolean;
  /**
   * `?prefer=<attribute>:<value>`: every call goes to the endpoints whose attribute has that value while
   * one of them is connected, to the others otherwise (the weighted policy).
   */
  prefer?: Preference;
}

/** Query parameters with a meaning of their own; every other parameter filters on metadata. */
export const RESERVED_PARAMS: readonly string[] = ["lb", "subset", "depth", "outlier", "prefer"];

const MAX_SUBSET = 1_000_000;
const MAX_DEPTH = 64;

function invalid(target: string, reason: string, cause?: unknown): ResolverError {
  return new ResolverError("INVALID_TARGET", `invalid target "${target}": ${reason}`, { cause });
}

function display(uri: TargetUri): string {
  const scheme = uri.scheme === undefined ? "" : `${uri.scheme}:`;
  return uri.authority === undefined ? `${scheme}${uri.path}` : `${scheme}//${uri.authority}/${uri.path}`;
}

/**
 * Reads a grpc-js target such as `etcd:///foo/bar/svc?zone=a&lb=pick_first` with the codec's target
 * grammar (`parseTarget`): the service and the parameters are percent-decoded and `+` stays `+`. Throws a
 * `ResolverError` (`INVALID_TARGET`) whose message shows the accepted form, e.g. for `etcd://svc`.
 */
export function parseEtcdTarget(uri: TargetUri, scheme: string): EtcdTarget {
  const shown = display(uri);
  const right = (service: string) => `${scheme}:///${service}`;
  if (uri.authority === undefined) {
    // grpc-js leaves `etcd://svc` (no third slash) unsplit: the path still starts with "//".
    const rest = uri.path.replace(/^\/+/, "");
    throw invalid(shown, `write the service after three slashes, e.g. "${right(rest || "my-service")}"`);
  }
  if (uri.authority !== "") {
    throw invalid(
      shown,
      `the ${scheme} resolver takes no authority; write "${right(`${uri.authority}/${uri.path}`)}" (three slashes, then the service)`,
    );
  }

  // One grammar for targets, the codec's: percent-decoding, `+` kept as `+`, no repeated parameters.
  const full = `${scheme}:///${uri.path}`;
  let parsed: Target;
  try {
    parsed = parseTarget(full, { scheme });
  } catch (error) {
    const cause = error instanceof NamingError ? error.cause : undefined;
    if (cause instanceof NamingError && cause.code === "INVALID_SERVICE") {
      const service = uri.path.split("?")[0] ?? "";
      throw invalid(shown, `bad service name "${service}": ${cause.message}`, error);
    }
    const message = error instanceof Error ? error.message : String(error);
    throw invalid(shown, message.replace(`target ${JSON.stringify(full)} `, ""), error);
  }

  const target: EtcdTarget = {
    service: parsed.service,
    filters: Object.create(null) as Record<string, string>,
  };
  for (const name of Object.keys(parsed.params)) {
    const value = parsed.params[name] ?? "";
    if (name === "lb") {
      if (!(POLICIES as readonly string[]).includes(value)) {
        throw invalid(shown, `lb must be one of ${POLICIES.join(", ")}, got "${value}"`);
      }
      target.policy = value as LoadBalancingPolicy;
    } else if (name === "subset") {
      const size = /^\d+$/.test(value) ? Number(value) : Number.NaN;
      if (!(size >= 1 && size <= MAX_SUBSET)) {
        throw invalid(shown, `subset must be a whole number from 1 to ${MAX_SUBSET}, got "${value}"`);
      }
      target.subset = size;
    } else if (name === "depth") {
      const depth = /^\d+$/.test(value) ? Number(value) : Number.NaN;
      if (!(depth >= 1 && depth <= MAX_DEPTH)) {
        throw invalid(shown, `depth must be a whole number from 1 to ${MAX_DEPTH}, got "${value}"`);
      }
      target.depth = depth;
    } else if (name === "outlier") {
      if (value !== "on" && value !== "off")
        throw invalid(shown, `outlier must be "on" or "off", got "${value}"`);
      target.outlier = value === "on";
    } else if (name === "prefer") {
      const colon = value.indexOf(":");
      const attribute = value.slice(0, colon);
      if (colon === -1 || !isAttributeKey(attribute)) {
        throw invalid(
          shown,
          `prefer must be <attribute>:<value> with an attribute key of A-Z a-z 0-9 _ - . (e.g. "zone:us-east-1a"), got "${value}"`,
        );
      }
      target.prefer = { attribute, value: value.slice(colon + 1) };
    } else {
      target.filters[name] = value;
    }
  }
  if (target.prefer !== undefined && target.policy !== undefined && target.policy !== "weighted") {
    throw invalid(shown, `prefer needs the weighted policy: drop lb=${target.policy} or write lb=weighted`);
  }
  return target;
}
