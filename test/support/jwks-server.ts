import { createServer, IncomingMessage, Server, ServerResponse } from "node:http";
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import type { CryptoKey, JWK, JWTPayload } from "jose";

export type TestKeyAlg = "ES256" | "EdDSA" | "RS256";

interface TestKey {
  kid: string;
  alg: TestKeyAlg;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

/**
 * A loopback identity provider for tests: node:http on 127.0.0.1 (port 0) serving a JWKS that
 * the test swaps (rotation), and signing tokens with jose. `mode` makes it fail: "error" answers
 * 500, "hang" never answers (a timeout), "junk" answers 200 with a body that is not JSON,
 * "redirect" answers 302 to its own JWKS, "huge" answers a 300 KB key set, and stop() closes the port (connection refused).
 */
export class TestJwksServer {
  readonly keys: TestKey[] = [];
  /** Every GET of the JWKS, for tests that count fetches. */
  fetches = 0;
  mode: "ok" | "error" | "hang" | "junk" | "redirect" | "huge" = "ok";
  private server: Server | null = null;
  private port = 0;

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get jwksUri(): string {
    return `${this.baseUrl}/jwks.json`;
  }

  /** Starts on a free loopback port with one key of `alg`. */
  static async start(alg: TestKeyAlg = "ES256"): Promise<TestJwksServer> {
    const idp = new TestJwksServer();
    await idp.addKey(alg);
    idp.server = createServer((request, response) => idp.handle(request, response));
    await new Promise<void>((resolve) => idp.server!.listen(0, "127.0.0.1", resolve));
    idp.port = (idp.server.address() as AddressInfo).port;
    return idp;
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    if (request.url !== "/jwks.json") {
      response.writeHead(404).end();
      return;
    }
    this.fetches += 1;
    if (this.mode === "hang") return; // never answers; stop() drops the connection
    if (this.mode === "error") {
      response.writeHead(500, { "content-type": "text/plain" }).end("down");
      return;
    }
    if (this.mode === "junk") {
      response.writeHead(200, { "content-type": "application/json" }).end("<html>not json</html>");
      return;
    }
    if (this.mode === "redirect") {
      response.writeHead(302, { location: this.jwksUri }).end();
      return;
    }
    const keys: Record<string, unknown>[] = this.keys.map((k) => ({
      ...k.publicJwk,
      kid: k.kid,
      alg: k.alg,
      use: "sig",
    }));
    if (this.mode === "huge") keys.push({ kty: "oct", kid: "padding", k: "A".repeat(300 * 1024) });
    const body = JSON.stringify({ keys });
    response.writeHead(200, { "content-type": "application/json" });
    if (this.mode === "huge") response.write(body.slice(0, 1024)); // chunked: no content-length
    response.end(this.mode === "huge" ? body.slice(1024) : body);
  }

  /** Publishes a new key (beside the others) and returns its kid. */
  async addKey(alg: TestKeyAlg = "ES256"): Promise<string> {
    const { publicKey, privateKey } = await generateKeyPair(
      alg,
      alg === "EdDSA" ? { crv: "Ed25519", extractable: true } : { extractable: true },
    );
    const kid = randomBytes(8).toString("hex");
    this.keys.push({ kid, alg, privateKey, publicJwk: await exportJWK(publicKey) });
    return kid;
  }

  /** Key rotation at the provider: a new key replaces every published one. Returns the new kid. */
  async rotate(alg: TestKeyAlg = "ES256"): Promise<string> {
    const kid = await this.addKey(alg);
    this.keys.splice(0, this.keys.length - 1);
    return kid;
  }

  /** The newest key, or the one with this kid. */
  key(kid?: string): TestKey {
    const key = kid ? this.keys.find((k) => k.kid === kid) : this.keys[this.keys.length - 1];
    if (!key) throw new Error(`no key ${kid}`);
    return key;
  }

  /**
   * Signs `claims` as given (no defaults: the test says exactly what the token carries) with the
   * newest key, or `options.key`; `options.header` adds or overrides header members.
   */
  async sign(
    claims: JWTPayload & Record<string, unknown>,
    options: { kid?: string; header?: Record<string, unknown>; omitKid?: boolean } = {},
  ): Promise<string> {
    const key = this.key(options.kid);
    const header = {
      alg: key.alg,
      typ: "JWT",
      ...(options.omitKid ? {} : { kid: key.kid }),
      ...(options.header ?? {}),
    };
    return new SignJWT(claims).setProtectedHeader(header).sign(key.privateKey);
  }

  /** Closes the port: later fetches get "connection refused". */
  async stop(): Promise<void> {
    if (!this.server) return;
    const server = this.server;
    this.server = null;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
