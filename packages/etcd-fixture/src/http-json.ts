import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

/** PEM material for an https request: the CA to trust and, for mutual TLS, a client certificate. */
export interface HttpTls {
  ca: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/**
 * One request over a fresh connection (no agent), so no pooled socket outlives a killed or paused
 * etcd, and a paused member costs at most `timeoutMs`. Resolves with the body as text; an HTTP error
 * status rejects.
 */
export function httpText(
  method: "GET" | "POST",
  url: string,
  body: unknown,
  timeoutMs: number,
  tls?: HttpTls,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const secure = url.startsWith("https:");
    const request = secure ? httpsRequest : httpRequest;
    const req = request(
      url,
      {
        method,
        agent: false,
        ...(secure && tls !== undefined ? tls : {}),
        timeout: timeoutMs,
        headers: payload === undefined ? {} : { "content-type": "application/json" },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", reject);
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          if ((res.statusCode ?? 0) >= 400) {
            reject(new Error(`${method} ${url}: HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
            return;
          }
          resolve(text);
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${url}: no answer within ${timeoutMs}ms`)));
    req.on("error", reject);
    req.end(payload);
  });
}

/** {@link httpText} with a JSON body in and out. */
export async function httpJson(
  method: "GET" | "POST",
  url: string,
  body: unknown,
  timeoutMs: number,
  tls?: HttpTls,
): Promise<unknown> {
  const text = await httpText(method, url, body, timeoutMs, tls);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${method} ${url}: not JSON: ${text.slice(0, 200)}`, { cause: error });
  }
}
