import type { EtcdServer } from "@etcd-naming/etcd-fixture";

/** Keep-alive streams open on `member`, from its gRPC metrics (started minus finished). */
export async function openKeepAlives(member: EtcdServer): Promise<number> {
  const text = await (await fetch(`${member.clientUrls[0]}/metrics`)).text();
  let open = 0;
  for (const line of text.split("\n")) {
    if (!line.includes('grpc_method="LeaseKeepAlive"')) continue;
    const count = Number(line.slice(line.lastIndexOf(" ") + 1));
    if (line.startsWith("grpc_server_started_total")) open += count;
    if (line.startsWith("grpc_server_handled_total")) open -= count;
  }
  return open;
}
