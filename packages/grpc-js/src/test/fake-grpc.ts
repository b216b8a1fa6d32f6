// A stand-in for the grpc-js module that records what is registered, so the resolver class can be
// driven directly with a listener of either shape.
import type { GrpcModule } from "../register.js";
import type { TargetUri } from "../target.js";
import { fakeBalancerApi } from "./fake-balancer.js";

export interface RegisteredClass {
  new (
    target: TargetUri,
    listener: unknown,
    options: Record<string, unknown>,
  ): { updateResolution(): void; destroy(): void };
  getDefaultAuthority(target: TargetUri): string;
}

export class FakeMetadata {}

export interface FakeGrpc extends GrpcModule {
  readonly registered: Map<string, RegisteredClass>;
}

/**
 * A fake grpc-js module; with `loadBalancers`, it also has the experimental load-balancer API (a fake one,
 * see fake-balancer.ts) that the weighted policy registers into.
 */
export function fakeGrpc(options: { loadBalancers?: boolean } = {}): FakeGrpc {
  const registered = new Map<string, RegisteredClass>();
  const registerResolver = (scheme: string, resolverClass: never) => {
    registered.set(scheme, resolverClass as RegisteredClass);
  };
  if (options.loadBalancers) {
    const balancers = fakeBalancerApi();
    return {
      registered,
      experimental: { ...balancers.experimental, registerResolver },
      connectivityState: balancers.connectivityState,
      Metadata: FakeMetadata,
    } as FakeGrpc;
  }
  return { registered, experimental: { registerResolver }, Metadata: FakeMetadata };
}

/** grpc-js's split of a target string into scheme, authority and path. */
export function uri(text: string): TargetUri {
  const match = /^(?:([A-Za-z0-9+.-]+):)?(?:\/\/([^/]*)\/)?(.+)$/.exec(text)!;
  return { scheme: match[1], authority: match[2], path: match[3]! };
}

/** Lets the memory source's microtasks and the watcher's promises run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
