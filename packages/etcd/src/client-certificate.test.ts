import { createCertificateAuthority } from "@etcd-naming/etcd-fixture";
import { Etcd3 } from "etcd3";
import { describe, expect, it } from "vitest";
import { clientCertificateOf, renewalShapeProblems, renewClientCertificate } from "./client-certificate.js";
import { etcdPool } from "./etcd3-pool.js";

// Runs against the installed etcd3 (a client connects lazily, no server needed): a release that reshapes
// the pool fails here with the part named. The renewal at work, with etcd, is reliability's TLS suite.
describe("renewClientCertificate", () => {
  it("gives a running client a new certificate for every connection it opens from now on", async () => {
    await using ca = await createCertificateAuthority();
    const first = await ca.issue("app", { usage: "client", lifetimeMs: 60_000 });
    const client = new Etcd3({
      hosts: ["127.0.0.1:1", "127.0.0.1:2"],
      credentials: { rootCertificate: ca.ca, certChain: first.cert, privateKey: first.key },
    });
    try {
      expect(renewalShapeProblems(client)).toEqual([]);
      expect(clientCertificateOf(client)).toMatchObject({ subject: "CN=app", validTo: first.notAfter });
      const pool = etcdPool(client)!;
      const member = pool.members[0]!;
      const before = pool.serviceClient(member, "KV");
      const hosts = (client as unknown as { pool: { hosts: { channelCredentials: object }[] } }).pool.hosts;
      const credentials = hosts[0]!.channelCredentials;

      const renewed = await ca.issue("app", { usage: "client", lifetimeMs: 3_600_000 });
      renewClientCertificate(client, { certChain: renewed.cert, privateKey: renewed.key });
      expect(clientCertificateOf(client)?.validTo).toEqual(renewed.notAfter);
      expect(pool.clientCertificate?.()?.validTo).toEqual(renewed.notAfter);
      expect(hosts[0]!.channelCredentials).not.toBe(credentials);
      expect(hosts[1]!.channelCredentials).toBe(hosts[0]!.channelCredentials);
      // The next call gets a new gRPC client, made with the new credentials.
      expect(pool.serviceClient(member, "KV")).not.toBe(before);
      expect(() =>
        renewClientCertificate(client, { certChain: Buffer.from("x"), privateKey: renewed.key }),
      ).toThrow();
      expect(clientCertificateOf(client)?.validTo).toEqual(renewed.notAfter);
    } finally {
      client.close();
    }
  });

  it("refuses a client created without TLS credentials", () => {
    const plain = new Etcd3({ hosts: "127.0.0.1:1" });
    try {
      expect(clientCertificateOf(plain)).toBeUndefined();
      expect(() =>
        renewClientCertificate(plain, { certChain: Buffer.from(""), privateKey: Buffer.from("") }),
      ).toThrow(/created without credentials/);
      expect(renewalShapeProblems({} as never)).toEqual(["client.pool (etcd3's connection pool) is missing"]);
    } finally {
      plain.close();
    }
  });
});
