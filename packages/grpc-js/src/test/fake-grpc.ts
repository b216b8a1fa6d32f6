// A stand-in for the grpc-js module that records what is registered, so the resolver class can be
// driven directly with a listener of either shape.
import type { GrpcModule } from "../register.js";
import type { TargetUri } from "../target.js";

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

export function fakeGrpc(): FakeGrpc {
  const registered = new Map<string, RegisteredClass>();
  return {
    registered,
    experimental: {
      registerResolver(scheme: string, resolverClass: never) {
        registered.set(scheme, resolverClass as RegisteredClass);
      },
    },
    Metadata: FakeMetadata,
  };
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
