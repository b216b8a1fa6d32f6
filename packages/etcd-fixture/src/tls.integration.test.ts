import { existsSync } from "node:fs";
import { Etcd3 } from "etcd3";
import { describe, expect, it } from "vitest";
import { createTestCertificates } from "./certificates.js";
import { startEtcd } from "./etcd-server.js";
import { tlsFromCertificates } from "./tls.js";

describe("TLS", () => {
  it("serves https with a generated CA, and mutual TLS refuses a client without a certificate", {
    timeout: 30_000,
  }, async () => {
    const certs = await createTestCertificates({ clients: ["alice"] });
    expect(certs.clients["alice"]!.cert.toString()).toContain("BEGIN CERTIFICATE");
    try {
      await using etcd = await startEtcd({ tls: tlsFromCertificates(certs, { clientCertAuth: true }) });
      expect(etcd.clientUrls).toEqual([`https://${etcd.endpoints[0]}`]);
      expect((await etcd.status()).version).toMatch(/^3\./);
      const alice = certs.clients["alice"]!;
      const client = new Etcd3({
        hosts: etcd.endpoints,
        credentials: { rootCertificate: certs.ca, certChain: alice.cert, privateKey: alice.key },
      });
      const anonymous = new Etcd3({ hosts: etcd.endpoints, credentials: { rootCertificate: certs.ca } });
      try {
        await client.put("tls/a").value("1");
        expect(await client.get("tls/a").string()).toBe("1");
        await expect(
          anonymous
            .get("tls/a")
            .options({ deadline: new Date(Date.now() + 2000) })
            .string(),
        ).rejects.toThrow();
      } finally {
        client.close();
        anonymous.close();
      }
      await etcd.restart();
      expect(etcd.running).toBe(true);
    } finally {
      await certs.close();
    }
    expect(existsSync(certs.dir)).toBe(false);
  });

  it("rejects mutual TLS without a client certificate for its own checks, and bad names", async () => {
    await using certs = await createTestCertificates();
    await expect(
      startEtcd({
        tls: {
          caFile: certs.caFile,
          certFile: certs.server.certFile,
          keyFile: certs.server.keyFile,
          clientCertAuth: true,
        },
      }),
    ).rejects.toMatchObject({ code: "INVALID_OPTIONS" });
    await expect(createTestCertificates({ clients: ["../x"] })).rejects.toMatchObject({
      code: "INVALID_OPTIONS",
    });
  });
});
