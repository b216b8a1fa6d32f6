import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { connect as netConnect } from "node:net";
import { type ConnectionOptions, createServer, type Server, type TLSSocket } from "node:tls";
import { createTestCertificates, type TestCertificates } from "@etcd-naming/etcd-fixture";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { omitIpServerName, withoutIpServerName } from "./tls-server-name.js";

// What grpc-js calls: the CommonJS tls module's connect, looked up at call time (so the wrapper applies).
const tls = process.getBuiltinModule("node:tls");

describe("withoutIpServerName", () => {
  it("leaves out an IP server name equal to the host, IPv4 and IPv6", () => {
    expect(withoutIpServerName({ host: "127.0.0.1", servername: "127.0.0.1", port: 1 })).toEqual({
      host: "127.0.0.1",
      port: 1,
    });
    expect(withoutIpServerName({ host: "::1", servername: "::1" })).toEqual({ host: "::1" });
    expect(withoutIpServerName({ servername: "10.0.0.5" })).toEqual({ host: "10.0.0.5" });
  });

  it("keeps a host name, and an IP server name that differs from the host", () => {
    const named = { host: "127.0.0.1", servername: "localhost" };
    expect(withoutIpServerName(named)).toBe(named);
    const other = { host: "127.0.0.1", servername: "127.0.0.2" };
    expect(withoutIpServerName(other)).toBe(other);
    const none = { host: "127.0.0.1" };
    expect(withoutIpServerName(none)).toBe(none);
  });
});

describe("omitIpServerName", () => {
  let certs: TestCertificates;
  let server: Server;
  let port = 0;
  /** The SNI each accepted connection carried (`false` or `null`: none). */
  const seen: (string | false | null)[] = [];

  beforeAll(async () => {
    certs = await createTestCertificates({ clients: [] });
    server = createServer({ cert: certs.server.cert, key: certs.server.key }, (socket) => {
      seen.push(socket.servername);
      socket.end();
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    port = (server.address() as AddressInfo).port;
    omitIpServerName();
  });

  afterAll(async () => {
    server?.close();
    await certs?.close();
  });

  /** Connects as grpc-js does (an open socket, `host` and `servername` set); resolves once verified. */
  async function handshake(options: ConnectionOptions): Promise<{ sni: string | false | null | undefined }> {
    const socket = netConnect(port, "127.0.0.1");
    await once(socket, "connect");
    const before = seen.length;
    const tlsSocket: TLSSocket = tls.connect({ socket, ALPNProtocols: ["h2"], ...options });
    try {
      await once(tlsSocket, "secureConnect");
      expect(tlsSocket.authorized).toBe(true);
      await once(tlsSocket, "end");
      return { sni: seen[before] };
    } finally {
      tlsSocket.destroy();
    }
  }

  it("connects to an IP with the certificate verified, sending no IP as the server name", async () => {
    const result = await handshake({ host: "127.0.0.1", servername: "127.0.0.1", ca: certs.ca });
    expect(result).toEqual({ sni: false });
  });

  it("still sends a host name as the server name", async () => {
    const result = await handshake({ host: "localhost", servername: "localhost", ca: certs.ca });
    expect(result).toEqual({ sni: "localhost" });
  });

  it("still checks the IP against the certificate's names", async () => {
    // The certificate covers 127.0.0.1, ::1 and localhost, not 127.0.0.2.
    await expect(
      handshake({ host: "127.0.0.2", servername: "127.0.0.2", ca: certs.ca }),
    ).rejects.toMatchObject({ code: "ERR_TLS_CERT_ALTNAME_INVALID" });
  });

  it("still refuses a certificate from an untrusted CA", async () => {
    await expect(handshake({ host: "127.0.0.1", servername: "127.0.0.1" })).rejects.toMatchObject({
      code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
    });
  });

  it("wraps tls.connect once however often it is called", () => {
    const wrapped = tls.connect;
    omitIpServerName();
    expect(tls.connect).toBe(wrapped);
    expect(wrapped.name).toBe("connectWithoutIpServerName");
  });
});
