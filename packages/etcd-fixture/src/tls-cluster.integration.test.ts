import { X509Certificate } from "node:crypto";
import { connect } from "node:tls";
import { Etcd3 } from "etcd3";
import { describe, expect, it } from "vitest";
import { createCertificateAuthority } from "./certificate-authority.js";
import { startTlsCluster } from "./tls-cluster.js";

/** The certificate a fresh TLS connection to `endpoint` is shown (`host:port`). */
function servedCertificate(endpoint: string, material: { ca: Buffer; cert: Buffer; key: Buffer }) {
  const [host, port] = endpoint.split(":");
  return new Promise<X509Certificate>((resolve, reject) => {
    const socket = connect({ host, port: Number(port), ...material, servername: "localhost" }, () => {
      const served = socket.getPeerX509Certificate();
      socket.destroy();
      if (served === undefined) reject(new Error("no certificate served"));
      else resolve(served);
    });
    socket.once("error", reject);
  });
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("createCertificateAuthority", () => {
  it("issues certificates that live seconds and issues them again in place", async () => {
    await using ca = await createCertificateAuthority();
    const first = await ca.issue("app", { usage: "client", lifetimeMs: 5_000 });
    const lifetime = first.notAfter.getTime() - Date.now();
    expect(lifetime).toBeGreaterThan(2_000);
    expect(lifetime).toBeLessThan(7_000);
    const x509 = new X509Certificate(first.cert);
    expect(x509.checkIssued(new X509Certificate(ca.ca))).toBe(true);
    const second = await ca.issue("app", { usage: "client", lifetimeMs: 60_000 });
    expect(second.certFile).toBe(first.certFile);
    expect(second.key.equals(first.key)).toBe(true);
    expect(second.notAfter.getTime()).toBeGreaterThan(first.notAfter.getTime() + 40_000);
    await expect(ca.issue("app", { usage: "client", lifetimeMs: 10 })).rejects.toThrow(/lifetimeMs/);
  });
});

describe("startTlsCluster", () => {
  it("runs TLS between members and to clients, refuses an expired client certificate and serves a rotated member certificate without a restart", {
    timeout: 90_000,
  }, async () => {
    await using cluster = await startTlsCluster({ name: "tls" });
    expect(cluster.clientUrls.every((url) => url.startsWith("https://"))).toBe(true);
    for (const member of cluster.members) expect(member.peerUrls[0]).toMatch(/^https:\/\//);
    await cluster.leader();

    const short = await cluster.issueClientCertificate("app", { lifetimeMs: 3_000 });
    const material = { rootCertificate: cluster.ca.ca, certChain: short.cert, privateKey: short.key };
    const client = new Etcd3({ hosts: cluster.endpoints, credentials: material });
    try {
      await client.put("tls-cluster/a").value("1");
      expect(await client.get("tls-cluster/a").string()).toBe("1");
    } finally {
      client.close();
    }
    // Once expired, every new handshake is refused (etcd 3.4 says "bad certificate", newer ones
    // "certificate expired"); the fixture's own checks carry a long-lived certificate and still work.
    await until("the client certificate to expire", async () =>
      Date.now() > short.notAfter.getTime() + 500 ? true : undefined,
    );
    const expired = new Etcd3({ hosts: cluster.endpoints, credentials: material });
    try {
      const error = await expired.maintenance.status({ deadline: Date.now() + 3_000 }).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(error?.message).toMatch(/bad certificate|certificate expired/);
    } finally {
      expired.close();
    }
    expect((await cluster.members[0]!.status()).version).toMatch(/^3\./);

    // etcd reads its certificate on every handshake: a rotated one is served to the next connection.
    const checks = await cluster.issueClientCertificate("checks");
    const tls = { ca: cluster.ca.ca, cert: checks.cert, key: checks.key };
    const before = await servedCertificate(cluster.endpoints[0]!, tls);
    expect(before.serialNumber).toBe(new X509Certificate(cluster.memberCertificate.cert).serialNumber);
    const rotated = await cluster.rotateMemberCertificate({ lifetimeMs: 3_600_000 });
    const after = await servedCertificate(cluster.endpoints[0]!, tls);
    expect(after.serialNumber).toBe(new X509Certificate(rotated.cert).serialNumber);
    expect(after.serialNumber).not.toBe(before.serialNumber);
    // Peers present it too: a restarted member joins its peers with the rotated certificate.
    const follower = cluster.members.find((m) => m.running)!;
    await follower.restart();
    await cluster.leader();
  });
});
