// A Connect transport over a service registered in etcd: one connect-node transport per endpoint, each
// with its own Http2SessionManager (the HTTP/2 session is reused by every call to that endpoint), picked
// round robin. The endpoint set comes from the watcher core and is followed live: a new endpoint gets a
// session on its first call, a removed one stops being picked at once and its session is closed when its
// last call in flight has ended. A call refused at connect (nothing was sent: the process is gone but its
// key has not expired) is retried on the next endpoint, and that endpoint sits out for a backoff.
import type { DescMessage, DescMethodStreaming, DescMethodUnary, MessageInitShape } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ContextValues,
  type StreamResponse,
  type Transport,
  type UnaryResponse,
} from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import type { ServiceEndpoint, ServiceWatcher } from "@etcd-naming/watcher";

/** The wire protocol the transport speaks to every endpoint. */
export type EtcdTransportProtocol = "grpc" | "grpc-web" | "connect";

export interface EtcdTransportOptions {
  /** Watches the service (`watchService(createEtcd3Source(client), "greeter")`); closed by `close()`. */
  watcher: ServiceWatcher;
  /** Default `"grpc"`. */
  protocol?: EtcdTransportProtocol;
  /** `"http"` (default, HTTP/2 without TLS) or `"https"`. */
  scheme?: "http" | "https";
  /** Binary protobuf (default true) or JSON, for the Connect and gRPC-Web protocols. */
  useBinaryFormat?: boolean;
  /** How long a refused endpoint sits out before it is picked again, in ms. Default 1000. */
  refusedBackoffMs?: number;
}

/** A Connect `Transport` that also closes what it holds. */
export interface EtcdTransport extends Transport, AsyncDisposable {
  /** The addresses currently picked from, in order. */
  endpoints(): readonly string[];
  /** Stops watching and closes every HTTP/2 session. */
  close(): Promise<void>;
}

type Header = Parameters<Transport["unary"]>[3];

interface Backend {
  readonly addr: string;
  readonly session: Http2SessionManager;
  readonly transport: Transport;
  inFlight: number;
  removed: boolean;
  refusedUntil: number;
}

const REFUSED = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "EADDRNOTAVAIL"]);

/** True when the call failed while connecting, so the request never left this process. */
function refusedAtConnect(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && REFUSED.has(code)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** Creates the transport; calls made before the first listing wait for it. */
export function createEtcdTransport(options: EtcdTransportOptions): EtcdTransport {
  const { watcher } = options;
  const protocol = options.protocol ?? "grpc";
  const scheme = options.scheme ?? "http";
  const backoff = options.refusedBackoffMs ?? 1_000;
  const backends = new Map<string, Backend>();
  let order: Backend[] = [];
  let next = 0;
  let closed = false;

  const create = (addr: string): Backend => {
    const baseUrl = `${scheme}://${addr}`;
    const session = new Http2SessionManager(baseUrl);
    const common = { baseUrl, httpVersion: "2" as const, sessionManager: session };
    const binary = options.useBinaryFormat ?? true;
    const transport =
      protocol === "grpc"
        ? createGrpcTransport(common)
        : protocol === "grpc-web"
          ? createGrpcWebTransport({ ...common, useBinaryFormat: binary })
          : createConnectTransport({ ...common, useBinaryFormat: binary });
    return { addr, session, transport, inFlight: 0, removed: false, refusedUntil: 0 };
  };

  const retire = (backend: Backend) => {
    backend.removed = true;
    if (backend.inFlight === 0) backend.session.abort();
  };

  const apply = (endpoints: readonly ServiceEndpoint[]) => {
    if (closed) return;
    const addrs = new Set(endpoints.map((e) => e.addr));
    for (const [addr, backend] of backends) {
      if (!addrs.has(addr)) {
        backends.delete(addr);
        retire(backend);
      }
    }
    for (const addr of addrs) if (!backends.has(addr)) backends.set(addr, create(addr));
    order = [...backends.values()];
  };
  watcher.on("update", ({ endpoints }) => apply(endpoints));
  const ready = watcher.ready().then((snapshot) => apply(snapshot.endpoints));
  ready.catch(() => {});

  const pick = (tried: Set<Backend>): Backend | undefined => {
    const now = Date.now();
    let fallback: Backend | undefined;
    for (let i = 0; i < order.length; i++) {
      const backend = order[next++ % order.length]!;
      if (tried.has(backend)) continue;
      if (backend.refusedUntil <= now) return backend;
      fallback ??= backend;
    }
    return fallback; // every endpoint refused lately: try one anyway rather than fail without trying
  };

  const release = (backend: Backend) => {
    backend.inFlight--;
    if (backend.removed && backend.inFlight === 0) backend.session.abort();
  };

  async function run<T>(
    call: (transport: Transport) => Promise<T>,
    settle: (backend: Backend, result: T) => T,
  ): Promise<T> {
    if (closed) throw new ConnectError("the etcd transport is closed", Code.Unavailable);
    if (order.length === 0) await ready;
    const tried = new Set<Backend>();
    let lastError: unknown;
    for (;;) {
      const backend = pick(tried);
      if (backend === undefined) {
        throw (
          lastError ??
          new ConnectError(`no endpoints registered for ${watcher.snapshot().service}`, Code.Unavailable)
        );
      }
      tried.add(backend);
      backend.inFlight++;
      let result: T;
      try {
        result = await call(backend.transport);
      } catch (error) {
        release(backend);
        if (!refusedAtConnect(error)) throw error;
        backend.refusedUntil = Date.now() + backoff;
        lastError = error;
        continue;
      }
      return settle(backend, result);
    }
  }

  return {
    endpoints: () => order.map((b) => b.addr),
    unary<I extends DescMessage, O extends DescMessage>(
      method: DescMethodUnary<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: Header,
      input: MessageInitShape<I>,
      contextValues?: ContextValues,
    ): Promise<UnaryResponse<I, O>> {
      return run(
        (t) => t.unary(method, signal, timeoutMs, header, input, contextValues),
        (backend, response) => {
          release(backend);
          return response;
        },
      );
    },
    stream<I extends DescMessage, O extends DescMessage>(
      method: DescMethodStreaming<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: Header,
      input: AsyncIterable<MessageInitShape<I>>,
      contextValues?: ContextValues,
    ): Promise<StreamResponse<I, O>> {
      // A stream's request messages cannot be replayed, so a stream is not retried elsewhere; it counts as
      // in flight until its response messages have been read to the end.
      return run(
        (t) => t.stream(method, signal, timeoutMs, header, input, contextValues),
        (backend, response) => {
          const messages = response.message;
          return {
            ...response,
            message: (async function* () {
              try {
                yield* messages;
              } finally {
                release(backend);
              }
            })(),
          };
        },
      );
    },
    async close() {
      if (closed) return;
      closed = true;
      await watcher.close();
      for (const backend of backends.values()) backend.session.abort();
      backends.clear();
      order = [];
    },
    [Symbol.asyncDispose]() {
      return this.close();
    },
  };
}
