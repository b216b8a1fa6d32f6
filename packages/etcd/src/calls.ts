import { castGrpcError, EtcdInvalidAuthTokenError, isRecoverableError } from "etcd3";
import { deadlineIn } from "./clock.js";
import type { EtcdPool, EtcdService, GrpcMetadata, Member, StreamMethod, UnaryMethod } from "./etcd3-pool.js";
import { explainTlsError } from "./tls-failure.js";

/** Options of {@link unaryCall}. */
export interface UnaryCallOptions {
  /** The members to try, in order (etcd3's own shuffle when absent); see {@link only}. */
  order?: Iterator<Member>;
  /** The call's deadline in ms, fresh for each attempt; without it the client's `defaultCallOptions` decide. */
  timeoutMs?: number;
  /**
   * Errors that are the member's answer rather than its failure (etcd refusing a request as too large,
   * say): handed back as `{ answer }` instead of thrown, so etcd3's circuit breaker does not count them
   * against the member and close its channels.
   */
  isAnswer?: (error: Error) => boolean;
  /**
   * Attempts for an error that is transient for etcd3 (the member is unreachable, or its circuit is open),
   * each through `order` again (default 1). An "invalid auth token" drops the cached token and is retried
   * once more on top, as etcd3's own calls do when a simple token expired.
   */
  attempts?: number;
  /** Extra metadata for this call (e.g. `hasleader`), set on a copy of the client's. */
  metadata?: Readonly<Record<string, string>>;
  /** Decodes the response instead of etcd3's generated decoder (see {@link OpenStreamOptions.deserialize}). */
  deserialize?: (bytes: Buffer) => unknown;
}

/** What a {@link unaryCall} got back: etcd's response, or an error that `isAnswer` took as its answer. */
export type UnaryOutcome<T> = { readonly response: T } | { readonly answer: Error };

/**
 * One unary gRPC call through the pool: `service.method(request)` on a member, with the client's call
 * options (its `defaultCallOptions`) and a fresh deadline. Rejects with etcd3's error class for the gRPC
 * status (`castGrpcError`).
 */
export async function unaryCall<T>(
  pool: EtcdPool,
  service: EtcdService,
  method: string,
  request: object,
  options: UnaryCallOptions = {},
): Promise<UnaryOutcome<T>> {
  const attempts = Math.max(1, options.attempts ?? 1);
  let reauthenticated = false;
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts; ) {
    try {
      return await pool.withConnection(
        service,
        ({ member, client, metadata }) =>
          new Promise<UnaryOutcome<T>>((resolve, reject) => {
            const call = (client as Partial<Record<string, UnaryMethod>>)[method];
            if (typeof call !== "function") throw new TypeError(`etcd3 has no ${service}.${method}`);
            const callOptions = pool.callOptions({ service, method, params: request, isStream: false });
            const deadline =
              options.timeoutMs === undefined ? {} : { deadline: deadlineIn(options.timeoutMs) };
            let callMetadata = metadata;
            if (options.metadata !== undefined) {
              callMetadata = metadata.clone();
              for (const [key, value] of Object.entries(options.metadata)) callMetadata.set(key, value);
            }
            const done = (error: Error | null, response?: unknown) => {
              if (error === null) {
                resolve({ response: response as T });
                return;
              }
              const cast = castGrpcError(error);
              explainTlsError(cast, member.host, pool.clientCertificate?.());
              if (options.isAnswer?.(cast) === true) resolve({ answer: cast });
              else reject(cast);
            };
            const allOptions = { ...callOptions, ...deadline };
            const decoded = withDecoder(client, call, "makeUnaryRequest", options.deserialize);
            if (decoded === undefined) call.call(client, request, callMetadata, allOptions, done);
            else {
              (client as GeneratedClient).makeUnaryRequest(
                decoded.path,
                decoded.serialize,
                decoded.deserialize,
                request,
                callMetadata,
                allOptions,
                done,
              );
            }
          }),
        options.order,
      );
    } catch (error) {
      lastError = error;
      if (error instanceof EtcdInvalidAuthTokenError && !reauthenticated) {
        reauthenticated = true;
        pool.invalidateAuthToken();
        continue;
      }
      if (!isTransient(error)) throw error;
      attempt++;
    }
  }
  throw lastError;
}

/** Transient for etcd3: a recoverable gRPC status, or a member's open circuit breaker. */
export function isTransient(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  // cockatiel's BrokenCircuitError, which etcd3 does not re-export.
  if ((error as { isBrokenCircuitError?: unknown }).isBrokenCircuitError === true) return true;
  return error instanceof Error && isRecoverableError(error);
}

/** An order with one member: etcd3's pool draws one member per attempt and makes one per member. */
export function* only(member: Member): Generator<Member> {
  for (;;) yield member;
}

/** Options of {@link openStream}. */
export interface OpenStreamOptions {
  /** The members to try, in order (etcd3's own shuffle when absent). */
  order?: Iterator<Member>;
  /** Extra metadata for this stream (e.g. `hasleader`), set on a copy of the client's. */
  metadata?: Readonly<Record<string, string>>;
  /**
   * Count a stream error against the member while the stream is still writable, as etcd3's own streams
   * do (default false: the caller judges the error itself).
   */
  markFailedOnError?: boolean;
  /** Told the member as soon as the stream is opened on it, before the returned promise settles. */
  onMember?: (member: Member) => void;
  /**
   * Decodes the stream's responses instead of etcd3's generated decoder (requests keep its encoder). The
   * generated client's method carries its path and encoder, as grpc-js's `makeClientConstructor` makes
   * it; a client without them (or without `makeBidiStreamRequest`) keeps its own decoder.
   */
  deserialize?: (bytes: Buffer) => unknown;
}

/** The parts of a grpc-js generated client that make a call with another decoder (grpc-js's `Client`). */
interface GeneratedClient {
  makeUnaryRequest(
    path: string,
    serialize: (value: never) => Buffer,
    deserialize: (bytes: Buffer) => unknown,
    request: object,
    metadata: GrpcMetadata,
    options: object,
    callback: (error: Error | null, response?: unknown) => void,
  ): unknown;
  makeBidiStreamRequest(
    path: string,
    serialize: (value: never) => Buffer,
    deserialize: (bytes: Buffer) => unknown,
    metadata: GrpcMetadata,
    options: object,
  ): unknown;
}

/**
 * How to call `method` of `client` with `deserialize` instead of its generated decoder: the path and
 * encoder grpc-js's `makeClientConstructor` attaches to a generated method, when `client` also has
 * `maker`. Undefined without a `deserialize`, or when the client lacks a part (the call then keeps the
 * generated method and its decoder).
 */
function withDecoder(
  client: object,
  method: object,
  maker: keyof GeneratedClient,
  deserialize: ((bytes: Buffer) => unknown) | undefined,
):
  | { path: string; serialize: (value: never) => Buffer; deserialize: (bytes: Buffer) => unknown }
  | undefined {
  if (deserialize === undefined) return undefined;
  const { path, requestSerialize } = method as { path?: unknown; requestSerialize?: unknown };
  if (typeof path !== "string" || typeof requestSerialize !== "function") return undefined;
  if (typeof (client as Partial<GeneratedClient>)[maker] !== "function") return undefined;
  return { path, serialize: requestSerialize as (value: never) => Buffer, deserialize };
}

/** A stream that gRPC opened, and the member it went to. */
export interface OpenedStream<S> {
  readonly stream: S;
  readonly member: Member;
}

/** Opens the bidirectional stream `service.method` on a member, with the client's call options for streams. */
export function openStream<S extends { on(event: "error", listener: (error: Error) => void): unknown }>(
  pool: EtcdPool,
  service: EtcdService,
  method: string,
  options: OpenStreamOptions = {},
): Promise<OpenedStream<S>> {
  return pool.withConnection(
    service,
    ({ member, client, metadata }) => {
      const open = (client as Partial<Record<string, StreamMethod>>)[method];
      if (typeof open !== "function") throw new TypeError(`etcd3 has no ${service}.${method}`);
      options.onMember?.(member);
      let streamMetadata = metadata;
      if (options.metadata !== undefined) {
        streamMetadata = metadata.clone();
        for (const [key, value] of Object.entries(options.metadata)) streamMetadata.set(key, value);
      }
      const callOptions = pool.callOptions({ service, method, isStream: true });
      const decoded = withDecoder(client, open, "makeBidiStreamRequest", options.deserialize);
      const stream = (
        decoded === undefined
          ? open.call(client, streamMetadata, callOptions)
          : (client as GeneratedClient).makeBidiStreamRequest(
              decoded.path,
              decoded.serialize,
              decoded.deserialize,
              streamMetadata,
              callOptions,
            )
      ) as S & { readonly writable?: boolean };
      // First of the stream's listeners: every later one reads a failed handshake's account.
      stream.on("error", (error: Error) => {
        explainTlsError(error, member.host, pool.clientCertificate?.());
      });
      if (options.markFailedOnError === true) {
        stream.on("error", (error: Error) => {
          if (stream.writable) pool.markFailed(member, error);
        });
      }
      return { stream, member };
    },
    options.order,
  );
}
