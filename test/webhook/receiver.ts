import http from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";

export interface Received {
  id: string;
  type: string;
  timestamp: string;
  data: any;
  /** The raw request, to verify with other secrets. */
  body: string;
  headers: Record<string, string>;
}

/**
 * A webhook receiver on loopback, as a company's backend would write it: it verifies every
 * request with the standardwebhooks package and the secrets it holds (answering 400 when none
 * verifies), drops duplicates by webhook-id, and answers `status` (set it to 503 to be "down").
 */
export interface Receiver {
  url: string;
  /** Verified messages, first arrival of each webhook-id, in arrival order. */
  messages: Received[];
  /** Every request that verified, duplicates included. */
  requests: number;
  /** Requests no held secret verified. */
  refused: number;
  secrets: string[];
  status: number;
  /** While set, requests are held unanswered (a slow backend) until it is cleared. */
  hold: boolean;
  held: number;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const seen = new Set<string>();
  const waiting: (() => void)[] = [];
  const receiver: Receiver = {
    url: "",
    messages: [],
    requests: 0,
    refused: 0,
    secrets: [],
    status: 200,
    hold: false,
    held: 0,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (c: Buffer) => chunks.push(c));
    request.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const headers = Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k, String(v)]));
      if (receiver.hold) {
        receiver.held++;
        waiting.push(() => response.end());
        return;
      }
      if (receiver.status !== 200) {
        response.statusCode = receiver.status;
        return response.end();
      }
      const verified = receiver.secrets.some((secret) => verifies(secret, body, headers));
      if (!verified) {
        receiver.refused++;
        response.statusCode = 400;
        return response.end();
      }
      receiver.requests++;
      const id = headers["webhook-id"];
      if (!seen.has(id)) {
        seen.add(id);
        const parsed = JSON.parse(body);
        receiver.messages.push({
          id,
          type: parsed.type,
          timestamp: parsed.timestamp,
          data: parsed.data,
          body,
          headers,
        });
      }
      response.statusCode = 204;
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  return receiver;
}

/** Whether `secret` verifies this request, per the standardwebhooks package. */
export function verifies(secret: string, body: string, headers: Record<string, string>): boolean {
  try {
    new Webhook(secret).verify(body, headers);
    return true;
  } catch {
    return false;
  }
}
