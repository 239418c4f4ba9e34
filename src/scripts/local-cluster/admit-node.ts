import { ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

/** The repository's root: the nearest folder above this file with a package.json (from src/ or dist/src/). */
export function repositoryRoot(from = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "package.json"))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

/** What a line of a node's output is passed to, with the node's name (the cluster script prefixes it). */
export type OutputSink = (node: string, line: string) => void;

/**
 * One Admit node: the built server (dist/src/main.js) in a process of its own, on 127.0.0.1 and
 * its own port, with the environment every node of the cluster shares. It can be stopped as an
 * orchestrator does (SIGTERM: the drain), killed (SIGKILL) and started again.
 */
export class AdmitNode {
  private child: ChildProcess | null = null;
  private exited: Promise<number | null> = Promise.resolve(null);
  private captured = "";

  constructor(
    readonly name: string,
    readonly port: number,
    private readonly env: Record<string, string>,
    private readonly sink?: OutputSink,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The running process's id (benchmarks read its CPU); undefined when stopped. */
  get pid(): number | undefined {
    return this.running ? this.child!.pid : undefined;
  }

  /** Everything the node wrote since its last start. */
  output(): string {
    return this.captured;
  }

  /** Starts the process; resolves once it listens, rejects with its output when it exits first. */
  async start(timeoutMs = 120_000): Promise<void> {
    if (this.running) throw new Error(`${this.name} is already running`);
    this.captured = "";
    const child = spawn(process.execPath, [path.join(repositoryRoot(), "dist/src/main.js")], {
      env: { ...process.env, ...this.env, PORT: String(this.port), HOST: "127.0.0.1" },
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group: a Ctrl-C in the terminal reaches the cluster script only, which
      // then stops the nodes in order (balancer last).
      detached: true,
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
    let partial = "";
    const take = (chunk: Buffer) => {
      this.captured += chunk.toString();
      if (!this.sink) return;
      const lines = (partial + chunk.toString()).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) this.sink(this.name, line);
    };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    const until = Date.now() + timeoutMs;
    while (!this.captured.includes("Admit is listening")) {
      if (!this.running)
        throw new Error(`${this.name} exited before listening (${String(await this.exited)}): ${this.captured.trim()}`);
      if (Date.now() > until) {
        await this.kill();
        throw new Error(`${this.name} did not listen within ${timeoutMs} ms: ${this.captured.trim()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** SIGTERM, as an orchestrator stops a node (it drains); the exit code. */
  async stop(): Promise<number | null> {
    if (this.running) this.child!.kill("SIGTERM");
    return this.exited;
  }

  /** SIGKILL: the node is gone at once, mid-request. */
  async kill(): Promise<void> {
    if (this.running) this.child!.kill("SIGKILL");
    await this.exited;
  }

  /** For a last-resort cleanup in a process `exit` handler (synchronous). */
  killNow(): void {
    if (this.running) this.child!.kill("SIGKILL");
  }
}
