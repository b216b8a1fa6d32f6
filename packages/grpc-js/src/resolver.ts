import { redactSecrets } from "@etcd-naming/codec";
import type { EndpointsUpdate, ServiceSnapshot } from "@etcd-naming/watcher";
import { ResolverError } from "./errors.js";
import { adaptListener, type ResolutionSink } from "./listener.js";
import type { DeliveredKind } from "./metrics.js";
import { PolicyChoice } from "./policy-choice.js";
import { RemovalGuard } from "./protection.js";
import type { ResolverContext } from "./resolver-context.js";
import { selectEndpoints } from "./select.js";
import {
  channelConfigWins,
  DEFAULT_OUTLIER_DETECTION,
  type ResolvedOutlierDetection,
} from "./service-config.js";
import type { ViewShare } from "./service-views.js";
import { RendezvousSubset } from "./subset.js";
import { type EtcdTarget, parseEtcdTarget, type TargetUri } from "./target.js";

export type { ResolverContext } from "./resolver-context.js";

/** A resolver class as grpc-js's `registerResolver` takes it. */
export interface ResolverClass {
  new (
    target: TargetUri,
    listener: unknown,
    channelOptions: Record<string, unknown>,
  ): { updateResolution(): void; destroy(): void };
  getDefaultAuthority(target: TargetUri): string;
}

// Spacing listener calls by ten times the cost of the last one keeps grpc-js's rebuild of every child
// policy (round_robin rebuilds all of them on each update) under a tenth of the event loop.
const COST_FACTOR = 10;

// How long after the resolver reports a failure it answers grpc-js's requests at once. grpc-js's
// pick_first children keep their 250 ms connection-delay timer after round_robin destroys them (1.14):
// one that fires once the service was emptied makes round_robin recompute its state from no children,
// IDLE, which drops the failure; the channel then asks the resolver again and waits in CONNECTING.
const SETTLE_MS = 300;

/** The watcher events after which a channel may have something new to hear. */
const NEWS = ["update", "stale", "fresh"] as const;

/**
 * What a channel was told, to send an unchanged state only once: its kind and text (the failure's details,
 * the policy's weights), and for endpoints their address ids, compared one by one rather than joined into
 * one text per update (on a large service a string of every address).
 */
interface Told {
  readonly text: string;
  readonly ids?: readonly string[];
}

function sameTold(a: Told, b: Told): boolean {
  if (a.text !== b.text) return false;
  if (a.ids === b.ids) return true;
  if (a.ids === undefined || b.ids === undefined || a.ids.length !== b.ids.length) return false;
  for (let i = 0; i < a.ids.length; i++) if (a.ids[i] !== b.ids[i]) return false;
  return true;
}

function closedError(scheme: string): ResolverError {
  return new ResolverError(
    "CLOSED",
    `the ${scheme}: resolver was closed; register it again before creating channels`,
  );
}

function describeFilters(filters: Readonly<Record<string, string>>): string {
  const parts = Object.keys(filters).map((name) => `${name}=${filters[name]}`);
  return parts.length === 0 ? "" : ` matching ${parts.join("&")}`;
}

/** The outlier detection a channel gets: its `?outlier=`, else the registration's default. */
function outlierFor(target: EtcdTarget, context: ResolverContext): ResolvedOutlierDetection | null {
  if (target.outlier === false) return null;
  if (target.outlier === true) return context.outlierDetection ?? DEFAULT_OUTLIER_DETECTION;
  return context.outlierDetection;
}

/**
 * The channel's default :authority for a service. grpc-js connects to `http://<authority>` and HTTP/2
 * servers reset streams whose :authority holds a "/", so the name is made host-like: `foo/bar/svc` →
 * `foo.bar.svc`. TLS users set `grpc.ssl_target_name_override` or `grpc.default_authority` as with any
 * name that is not the certificate's host.
 */
export function authorityOf(service: string): string {
  return service.replace(/\//g, ".").replace(/[^A-Za-z0-9._-]/g, "-");
}

/** Builds the class grpc-js instantiates for every channel whose target has the registered scheme. */
export function createResolverClass(context: ResolverContext): ResolverClass {
  class EtcdResolver {
    readonly #target: EtcdTarget;
    readonly #sink: ResolutionSink;
    readonly #policy: PolicyChoice;
    readonly #subset: RendezvousSubset | undefined;
    readonly #guard = new RemovalGuard(context.protection);
    #share: ViewShare | null = null;
    /** Subscribed to the view's `update`, `stale` and `fresh` while active. */
    #news: (() => void) | null = null;
    /** Notes when the view's changes arrived, for the propagation histogram. */
    #arrivals: ((update: EndpointsUpdate) => void) | null = null;
    /** When the oldest change not yet flushed reached the watcher. */
    #pendingSince: number | undefined;
    /** While a flush runs: when the change it may deliver reached the watcher. */
    #arrival: number | undefined;
    #timer: unknown = null;
    /** Set instead of `#timer` while a deferred flush (`context.defer`) is pending. */
    #deferred: object | null = null;
    /** When the pending timer fires. */
    #timerAt = 0;
    #active = false;
    /** What the channel was last told; null when nothing since (re)initialisation. */
    #reported: Told | null = null;
    /** Tells the channel again that calls must fail, while that is the last thing it was told. */
    #failure: (() => void) | null = null;
    /** grpc-js asked again while calls were failing: say it again even if nothing changed. */
    #repeat = false;
    /** When the channel was first told that calls must fail (since it last had endpoints). */
    #failedAt = Number.NEGATIVE_INFINITY;
    #hadEndpoints = false;
    #lastCallAt = Number.NEGATIVE_INFINITY;
    #spacingMs: number;

    static getDefaultAuthority(target: TargetUri): string {
      if (context.closed) throw closedError(context.scheme);
      return authorityOf(parseEtcdTarget(target, context.scheme).service);
    }

    constructor(target: TargetUri, listener: unknown, channelOptions: Record<string, unknown>) {
      if (context.closed) throw closedError(context.scheme);
      this.#target = parseEtcdTarget(target, context.scheme);
      this.#sink = adaptListener(listener, context.newMetadata);
      const service = this.#target.service;
      this.#policy = new PolicyChoice(this.#target, {
        defaultPolicy: context.defaultPolicy,
        weightedPolicy: context.weightedPolicy,
        outlier: outlierFor(this.#target, context),
        channelWins: channelConfigWins(channelOptions),
        invalidWeight: (key, value) => context.warnInvalidWeight(service, key, value),
        weightedUnavailable: () => context.weightedUnavailable(),
      });
      this.#subset = this.#target.subset === undefined ? undefined : new RendezvousSubset(context.subsetSeed);
      this.#spacingMs = context.minUpdateIntervalMs;
    }

    updateResolution(): void {
      if (context.closed) return;
      if (!this.#active) this.#start();
      // The shared watch is always current, so a request is answered from it, never from etcd, and
      // through the same spacing as updates: grpc-js asks in a loop while connections fail. While calls
      // fail the failure is said again, even though nothing changed: the channel may have lost it (see
      // SETTLE_MS) and would otherwise queue every call until its deadline. Right after the failure was
      // first reported the answer is immediate.
      if (this.#failure !== null) {
        this.#repeat = true;
        const settling = context.clock.now() - this.#failedAt < SETTLE_MS;
        this.#schedule(settling ? 0 : undefined);
        return;
      }
      this.#schedule();
    }

    destroy(): void {
      if (!this.#active) return;
      this.#active = false;
      context.detach(this);
      this.#cancel();
      const news = this.#news;
      if (this.#share !== null && news !== null) {
        for (const event of NEWS) this.#share.view.off(event, news);
      }
      if (this.#share !== null && this.#arrivals !== null) this.#share.view.off("update", this.#arrivals);
      this.#news = null;
      this.#arrivals = null;
      this.#pendingSince = undefined;
      this.#share?.release();
      this.#share = null;
      // A later updateResolution() re-initialises, and the channel's new policy needs the full state
      // without waiting out the spacing meant for the old one.
      this.#reported = null;
      this.#failure = null;
      this.#repeat = false;
      this.#failedAt = Number.NEGATIVE_INFINITY;
      this.#lastCallAt = Number.NEGATIVE_INFINITY;
      this.#guard.reset();
      this.#policy.reset();
    }

    #start(): void {
      this.#active = true;
      context.attach(this);
      let share: ViewShare;
      try {
        share = context.acquire(this.#target.service);
      } catch (error) {
        this.#active = false;
        context.detach(this);
        context.warn(this.#target.service, `cannot watch ${this.#target.service}`, error);
        return;
      }
      this.#share = share;
      // News for a failing channel (a recovery) is not spaced: the spacing keeps grpc-js from rebuilding
      // large endpoint lists too often, and the failure it replaces held none. The news itself is read
      // from the view when the timer fires: by then it may have moved on.
      const news = () => this.#schedule(this.#failure === null ? undefined : 0, true);
      this.#news = news;
      for (const event of NEWS) share.view.on(event, news);
      if (context.metrics !== undefined) {
        // Subscribed before a flush can run: the update's time is noted before the flush reads it.
        const arrivals = (update: EndpointsUpdate) => {
          if (update.initial || update.receivedAt === undefined) return;
          this.#pendingSince = Math.min(this.#pendingSince ?? update.receivedAt, update.receivedAt);
        };
        this.#arrivals = arrivals;
        share.view.on("update", arrivals);
      }
    }

    /**
     * Flushes after `wait` ms, or once the spacing since the last listener call allows (undefined). News
     * from the watcher that needs no wait (an isolated change) is flushed as soon as the watcher's callback
     * has returned, in a microtask, as grpc-js's own resolvers answer with `process.nextTick`: a timer's
     * turn of the event loop measurably delays it. grpc-js's own requests (updateResolution) keep the timer,
     * so that a channel asking in a loop still lets I/O run between answers.
     */
    #schedule(wait?: number, fromNews = false): void {
      if (!this.#active) return;
      const now = context.clock.now();
      const at = now + (wait ?? Math.max(0, this.#lastCallAt + this.#spacingMs - now));
      if (this.#timer !== null || this.#deferred !== null) {
        if (this.#timerAt <= at) return;
        this.#cancel();
      }
      this.#timerAt = at;
      if (fromNews && at <= now && context.defer !== null) {
        const token = {};
        this.#deferred = token;
        context.defer(() => {
          if (this.#deferred !== token) return;
          this.#deferred = null;
          this.#flush();
        });
        return;
      }
      // Even a zero wait goes through a timer (or the microtask above): the listener is never called from
      // the constructor, updateResolution() or a watcher callback that may run inside them.
      this.#timer = context.clock.setTimeout(() => {
        this.#timer = null;
        this.#flush();
      }, at - now);
    }

    #cancel(): void {
      if (this.#timer !== null) context.clock.clearTimeout(this.#timer);
      this.#timer = null;
      this.#deferred = null;
    }

    #flush(): void {
      if (!this.#active || this.#share === null) return;
      const repeat = this.#repeat;
      this.#repeat = false;
      const snapshot = this.#share.view.snapshot();
      this.#arrival = this.#pendingSince;
      this.#pendingSince = undefined;
      try {
        this.#flushSnapshot(snapshot, repeat);
      } finally {
        this.#arrival = undefined;
      }
    }

    #flushSnapshot(snapshot: ServiceSnapshot, repeat: boolean): void {
      if (this.#share === null) return;
      const { service, filters } = this.#target;
      if (!snapshot.listed) {
        // Nothing is known yet. Only a failed first listing is worth reporting: calls then fail fast
        // with the reason instead of waiting for their deadline.
        const cause = this.#share.cause;
        if (cause !== undefined && this.#reported === null) {
          // A refused read will not heal by waiting: say so, rather than blame availability.
          const why =
            (cause as { code?: unknown }).code === "PERMISSION_DENIED"
              ? "permission denied"
              : "etcd unavailable";
          // The status reaches every call: etcd3's errors quote its target, with any password in it.
          const details = redactSecrets(`cannot resolve ${service}: ${why} (${cause.message})`);
          const report = () => this.#sink.error(details, this.#policy.base);
          this.#call({ text: `error:${details}` }, report, report, repeat, "error");
        } else if (repeat && this.#failure !== null) {
          this.#send(this.#failure);
        }
        return;
      }

      const selected = selectEndpoints(snapshot.endpoints, {
        filters,
        subset: this.#subset,
        subsetSize: this.#target.subset,
        depth:
          this.#target.depth === undefined
            ? undefined
            : { prefix: `${service}/`, levels: this.#target.depth },
        onInvalidAddress: (key, addr) => context.warnInvalidAddress(service, key, addr),
        withAttributes: this.#policy.needsAttributes,
        addresses: this.#share.addresses,
        // The watcher's snapshot is in key order.
        inKeyOrder: true,
      });
      const now = context.clock.now();
      const { endpoints, ids, recheckAt, started, released } = this.#guard.guard(selected, now);
      if (started !== undefined) context.holding(service, started);
      if (released !== undefined) context.released(service, released);
      // While a hold is on, look again when it ends, even if etcd says nothing new by then.
      if (recheckAt !== undefined) this.#schedule(Math.max(0, recheckAt - now));
      if (endpoints.length > 0) {
        this.#hadEndpoints = true;
        // What the channel was told, by address (each endpoint has one) and with the weights, to send an
        // unchanged set only once.
        const { config, signature } = this.#policy.forEndpoints(selected, ids);
        this.#call(
          { text: `ok:${signature}`, ids },
          () => this.#sink.endpoints(endpoints, config),
          undefined,
          false,
          "endpoints",
        );
        return;
      }
      // A service that never had endpoints stays silent so calls wait for one (up to their deadline); one
      // emptied on purpose, or a failure reported earlier, is replaced by an explicit empty list.
      if (this.#hadEndpoints || this.#reported !== null) {
        const note = `no endpoints for ${service}${describeFilters(filters)}`;
        this.#call(
          { text: `empty:${note}` },
          () => this.#sink.empty(note),
          () => this.#sink.stillEmpty(note),
          repeat,
          "empty",
        );
      }
    }

    /**
     * Tells the channel `next` (what `report` says), unless it was the last thing it was told. `again`
     * marks a failure: it says the same again, which happens when grpc-js asks (`repeat`) while it is
     * still the last thing said.
     */
    #call(
      next: Told,
      report: () => void,
      again: (() => void) | undefined,
      repeat: boolean,
      kind: DeliveredKind,
    ): void {
      if (this.#reported !== null && sameTold(next, this.#reported)) {
        if (repeat && this.#failure !== null) this.#send(this.#failure);
        return;
      }
      this.#reported = next;
      if (again === undefined) {
        this.#failure = null;
        this.#failedAt = Number.NEGATIVE_INFINITY;
      } else {
        if (this.#failure === null) this.#failedAt = context.clock.now();
        this.#failure = again;
      }
      // Propagation ends when the channel is handed the change, before it acts on it.
      const arrival = this.#arrival;
      this.#arrival = undefined;
      const seconds = arrival === undefined ? undefined : Math.max(0, context.clock.now() - arrival) / 1000;
      this.#send(report);
      context.metrics?.delivered(this.#target.service, kind, seconds);
    }

    #send(report: () => void): void {
      const started = context.clock.now();
      try {
        report();
      } catch (error) {
        context.warn(
          this.#target.service,
          `the grpc-js channel rejected the endpoints of ${this.#target.service}`,
          error,
        );
      }
      const finished = context.clock.now();
      this.#lastCallAt = finished;
      this.#spacingMs = Math.min(
        context.maxUpdateIntervalMs,
        Math.max(context.minUpdateIntervalMs, (finished - started) * COST_FACTOR),
      );
    }
  }
  return EtcdResolver;
}
