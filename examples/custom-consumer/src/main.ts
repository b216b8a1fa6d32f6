// Sends requests round robin to the HTTP servers registered in etcd under a service, following them as
// they come and go. Register one with any tool, e.g.:
//   etcd-naming register http-api 127.0.0.1:8080      (or Go's endpoints.Manager, or etcdctl put)
import { createEtcd3Source, watchService } from "@etcd-naming/watcher";
import { Etcd3 } from "etcd3";
import { balancedFetch } from "./balanced-fetch.js";

const client = new Etcd3({ hosts: (process.env["ETCD_ENDPOINTS"] ?? "127.0.0.1:2379").split(",") });
const watcher = watchService(createEtcd3Source(client), process.env["SERVICE"] ?? "http-api");
const api = balancedFetch(watcher);

const requests = Number(process.env["REQUESTS"] ?? 10);
for (let i = 1; i <= requests; i++) {
  try {
    const response = await api.fetch("/", { signal: AbortSignal.timeout(5_000) });
    const body = (await response.text()).trim().split("\n")[0];
    console.log(`GET / → ${response.status} ${body}`);
  } catch (error) {
    console.error(`request ${i} failed: ${(error as Error).message}`);
    process.exitCode = 1;
  }
  await new Promise((resolve) => setTimeout(resolve, Number(process.env["INTERVAL_MS"] ?? 500)));
}

await watcher.close();
client.close();
