// The Greeter service. Its messages are JSON so the example needs no .proto toolchain; with protobuf you
// would load greeter.proto through @grpc/proto-loader instead, and nothing about discovery would change.
import * as grpc from "@grpc/grpc-js";

export interface HelloRequest {
  name: string;
}

export interface HelloReply {
  message: string;
  /** Which server answered, so a client can see how its calls spread. */
  from: string;
}

function json<T>(): { serialize: (value: T) => Buffer; deserialize: (bytes: Buffer) => T } {
  return {
    serialize: (value) => Buffer.from(JSON.stringify(value)),
    deserialize: (bytes) => JSON.parse(bytes.toString("utf8")) as T,
  };
}

const request = json<HelloRequest>();
const reply = json<HelloReply>();

/** The service definition a `grpc.Server` serves. */
export const greeterService = {
  sayHello: {
    path: "/demo.Greeter/SayHello",
    requestStream: false,
    responseStream: false,
    requestSerialize: request.serialize,
    requestDeserialize: request.deserialize,
    responseSerialize: reply.serialize,
    responseDeserialize: reply.deserialize,
  },
} satisfies grpc.ServiceDefinition;

/** A typed Greeter client: `new GreeterClient("etcd:///greeter", credentials)`. */
export class GreeterClient extends grpc.Client {
  sayHello(
    name: string,
    options: grpc.CallOptions = {},
    metadata = new grpc.Metadata(),
  ): Promise<HelloReply> {
    const { path, requestSerialize, responseDeserialize } = greeterService.sayHello;
    return new Promise((resolve, reject) => {
      this.makeUnaryRequest(
        path,
        requestSerialize,
        responseDeserialize,
        { name },
        metadata,
        options,
        (error, value) => (error || value === undefined ? reject(error) : resolve(value)),
      );
    });
  }
}
