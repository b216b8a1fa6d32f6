// Sends requests to the HTTP servers registered in etcd under a service, following them as they come and
// go, through @etcd-naming/undici's dispatcher. Register one with any tool, e.g.:
//   etcd-naming register http-api 127.0.0.1:8080      (or Go's endpoints.Manager, or etcdctl put)
import { createEtcdDispatcher } from "@etcd-naming/undici";
import { Etcd3 } from "etcd3";
import { fetch } from "undici";

const client = new Etcd3({ hosts: (process.env["ETCD_ENDPOINTS"] ?? "127.0.0.1:2379").split(",") });
// SERVICE may hold a slash (`team/http-api`), which no host name can: every request goes to it.
const dispatcher = createEtcdDispatcher({ client, service: process.env["SERVICE"] ?? "http-api" });

const requests = Number(process.env["REQUESTS"] ?? 10);
for (let i = 1; i <= requests; i++) {
  try {
    const response = await fetch("http://http-api/", { dispatcher, signal: AbortSignal.timeout(5_000) });
    const body = (await response.text()).trim().split("\n")[0];
    console.log(`GET / → ${response.status} ${body}`);
  } catch (error) {
    console.error(`request ${i} failed: ${(error as Error).message}`);
    process.exitCode = 1;
  }
  await new Promise((resolve) => setTimeout(resolve, Number(process.env["INTERVAL_MS"] ?? 500)));
}

await dispatcher.close();
client.close();
