import WebSocket from "ws";

/**
 * A minimal graphql-ws (graphql-transport-ws) client for tests and benches: every message is
 * kept, so a test can wait for the next one of a subscription, and for the close code.
 */

interface RawSocket {
  readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  on(event: "open", listener: () => void): void;
  on(event: "message", listener: (data: Buffer) => void): void;
  on(event: "close", listener: (code: number, reason: Buffer) => void): void;
  on(event: "error", listener: (error: Error) => void): void;
}

export interface Closed {
  code: number;
  reason: string;
}

/** What a subscription receives: a result (data or errors), or its completion. */
export type Received =
  { kind: "next"; data?: any; errors?: any[] } | { kind: "error"; errors: any[] } | { kind: "complete" };

class Queue<T> {
  private readonly items: T[] = [];
  private readonly waiting: ((item: T) => void)[] = [];
  push(item: T) {
    const waiter = this.waiting.shift();
    if (waiter) waiter(item);
    else this.items.push(item);
  }
  take(timeoutMs: number, what: string): Promise<T> {
    if (this.items.length) return Promise.resolve(this.items.shift()!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(new Error(`nothing received for ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (item: T) => {
        clearTimeout(timer);
        resolve(item);
      };
      this.waiting.push(waiter);
    });
  }
  get size() {
    return this.items.length;
  }
}

export class LiveSubscription {
  readonly received = new Queue<Received>();
  constructor(
    private readonly client: LiveClient,
    readonly id: string,
  ) {}

  /** The next message of this subscription. */
  next(timeoutMs = 5_000): Promise<Received> {
    return this.received.take(timeoutMs, `subscription ${this.id}`);
  }

  /** The next result's data, failing on errors or completion. */
  async data(timeoutMs = 5_000): Promise<any> {
    const message = await this.next(timeoutMs);
    if (message.kind !== "next" || message.errors) throw new Error(`expected data, got ${JSON.stringify(message)}`);
    return message.data;
  }

  complete(): void {
    this.client.send({ id: this.id, type: "complete" });
  }
}

export class LiveClient {
  private readonly subscriptions = new Map<string, LiveSubscription>();
  private nextId = 1;
  /** Resolves with the connection_ack's payload (rejects if the connection closes first). */
  readonly acknowledged: Promise<unknown>;
  readonly closed: Promise<Closed>;

  private constructor(private readonly socket: RawSocket) {
    let ack: (payload: unknown) => void = () => undefined;
    let refuse: (error: Error) => void = () => undefined;
    this.acknowledged = new Promise((resolve, reject) => {
      ack = resolve;
      refuse = reject;
    });
    this.acknowledged.catch(() => undefined);
    this.closed = new Promise((resolve) => {
      socket.on("close", (code, reason) => {
        refuse(new Error(`closed ${code} ${String(reason)} before connection_ack`));
        resolve({ code, reason: String(reason) });
      });
    });
    socket.on("error", () => undefined);
    socket.on("message", (raw) => {
      const message = JSON.parse(String(raw)) as { id?: string; type: string; payload?: any };
      if (message.type === "connection_ack") return ack(message.payload);
      if (message.type === "ping") return this.send({ type: "pong" });
      const subscription = message.id ? this.subscriptions.get(message.id) : undefined;
      if (!subscription) return;
      if (message.type === "next")
        subscription.received.push({ kind: "next", data: message.payload?.data, errors: message.payload?.errors });
      else if (message.type === "error") subscription.received.push({ kind: "error", errors: message.payload });
      else if (message.type === "complete") subscription.received.push({ kind: "complete" });
    });
  }

  /** Opens a connection to `url` (ws://…/graphql/ws) and sends connection_init with `payload`. */
  static async connect(
    url: string,
    payload?: Record<string, unknown>,
    options: { init?: boolean; protocol?: string } = {},
  ): Promise<LiveClient> {
    const protocol = options.protocol ?? "graphql-transport-ws";
    const socket = new WebSocket(url, protocol) as RawSocket;
    await new Promise<void>((resolve, reject) => {
      socket.on("open", resolve);
      socket.on("error", reject);
    });
    const client = new LiveClient(socket);
    if (options.init !== false) client.send({ type: "connection_init", ...(payload ? { payload } : {}) });
    return client;
  }

  send(message: Record<string, unknown>): void {
    if (this.socket.readyState === 1) this.socket.send(JSON.stringify(message));
  }

  subscribe(query: string, variables: Record<string, unknown> = {}): LiveSubscription {
    const id = String(this.nextId++);
    const subscription = new LiveSubscription(this, id);
    this.subscriptions.set(id, subscription);
    this.send({ id, type: "subscribe", payload: { query, variables } });
    return subscription;
  }

  close(): void {
    this.socket.close(1000, "done");
  }
}

/** The ws:// address of an app's live endpoint, from its http:// base. */
export const liveUrlOf = (httpBase: string): string => `${httpBase.replace(/^http/, "ws")}/graphql/ws`;
