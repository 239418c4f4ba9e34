import net from "node:net";

/**
 * A TCP proxy on 127.0.0.1 in front of a database server, for tests that need to see or break
 * what goes between the app and PostgreSQL: it counts the connections made through it, remembers
 * the local port of each connection it opens upstream (PostgreSQL's `client_port`), counts the
 * bytes clients send, and can stop forwarding without closing or resetting anything.
 */
export class TcpProxy {
  connections = 0;
  bytesFromClients = 0;
  readonly upstreamPorts = new Set<number>();
  private forwarding = true;
  private readonly sockets = new Set<net.Socket>();
  private constructor(private readonly server: net.Server) {}

  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    const server = net.createServer();
    const proxy = new TcpProxy(server);
    server.on("connection", (client) => {
      proxy.connections++;
      const upstream = net.connect(target.port, target.host, () => {
        if (upstream.localPort) proxy.upstreamPorts.add(upstream.localPort);
      });
      client.on("data", (chunk: Buffer) => (proxy.bytesFromClients += chunk.length));
      for (const [from, to] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        proxy.sockets.add(from);
        // While paused, bytes are read and dropped: the sender sees them acknowledged, as when
        // a link fails after the last hop that answers.
        from.on("data", (chunk) => {
          if (proxy.forwarding) to.write(chunk);
        });
        from.on("close", () => {
          proxy.sockets.delete(from);
          to.destroy();
        });
        from.on("error", () => undefined);
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** `url` with its host and port replaced by this proxy's. */
  urlThrough(url: string | URL): URL {
    const through = new URL(url);
    through.hostname = "127.0.0.1";
    through.port = String(this.port);
    return through;
  }

  pause(): void {
    this.forwarding = false;
  }

  resume(): void {
    this.forwarding = true;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
