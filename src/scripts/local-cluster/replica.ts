import { ChildProcess, execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Client } from "pg";

/** A streaming replica of the primary, in a temporary directory that `stop` removes. */
export interface Replica {
  /** The same database, user and password as the primary's URL, on the replica's port. */
  url: string;
  port: number;
  /** What the replica's postgres wrote (its log). */
  logFile: string;
  stop(): Promise<void>;
  /** Fast shutdown, keeping the data directory: `resume` starts it again. */
  halt(): Promise<void>;
  /** Starts a halted replica again; resolves once it streams from the primary. */
  resume(): Promise<void>;
  /** Immediate shutdown, synchronously (a process `exit` handler's last resort); leaves the directory. */
  killNow(): void;
}

/** How this machine's PostgreSQL tools run: which directory, and as whom (postgres refuses root). */
interface Runner {
  bin: string;
  uid?: number;
  gid?: number;
}

/** Settings a hot standby must have at least as high as its primary. */
const STANDBY_MINIMUMS = [
  "max_connections",
  "max_worker_processes",
  "max_wal_senders",
  "max_prepared_transactions",
  "max_locks_per_transaction",
];

function runnerFor(majorVersion: number): Runner {
  const versioned = `/usr/lib/postgresql/${majorVersion}/bin`;
  let bin = versioned;
  if (!fs.existsSync(path.join(versioned, "postgres"))) {
    try {
      bin = execFileSync("pg_config", ["--bindir"], { encoding: "utf8" }).trim();
    } catch {
      throw new Error(`no PostgreSQL ${majorVersion} binaries found (${versioned}, or pg_config --bindir)`);
    }
  }
  if (process.getuid?.() !== 0) return { bin };
  const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim());
  return { bin, uid: id("-u"), gid: id("-g") };
}

function run(runner: Runner, tool: string, args: string[], env: Record<string, string> = {}): void {
  try {
    execFileSync(path.join(runner.bin, tool), args, {
      stdio: "pipe",
      uid: runner.uid,
      gid: runner.gid,
      env: { ...process.env, ...env },
    });
  } catch (error) {
    throw new Error(`${tool} failed: ${String((error as { stderr?: Buffer }).stderr ?? error).trim()}`, {
      cause: error,
    });
  }
}

/** Whether the primary takes a replication connection from 127.0.0.1 with these credentials. */
async function replicationAllowed(url: URL): Promise<boolean> {
  const client = new Client({ connectionString: url.toString(), replication: "true" } as ConstructorParameters<
    typeof Client
  >[0]);
  try {
    await client.connect();
    await client.query("IDENTIFY_SYSTEM");
    return true;
  } catch (error) {
    if (/pg_hba\.conf/.test(String(error))) return false;
    throw error;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Lets the primary take replication connections from 127.0.0.1: one line appended to its
 * pg_hba.conf, then a reload. The method is the one this connection used (a password: scram;
 * none: trust, as the primary already trusts these connections). The line stays afterwards.
 */
async function allowReplication(primary: Client, url: URL, log: (line: string) => void): Promise<void> {
  const hbaFile = String((await primary.query<{ hba_file: string }>("SHOW hba_file")).rows[0].hba_file);
  const user = decodeURIComponent(url.username || "postgres");
  const line = `host replication ${user} 127.0.0.1/32 ${url.password ? "scram-sha-256" : "trust"}`;
  try {
    fs.appendFileSync(hbaFile, `\n# Added by npm run cluster: streaming replicas on this machine.\n${line}\n`);
  } catch (error) {
    throw new Error(
      `the primary refuses replication connections, and ${hbaFile} cannot be written here (${String(error)}): add "${line}" to it and reload PostgreSQL`,
      { cause: error },
    );
  }
  await primary.query("SELECT pg_reload_conf()");
  log(`added "${line}" to ${hbaFile} and reloaded PostgreSQL`);
}

/**
 * A streaming replica of the PostgreSQL server `primaryUrl` names (on this machine), made with
 * pg_basebackup into a temporary directory and run on `port` (127.0.0.1 and a socket in that
 * directory only). Resolves once the replica streams from the primary.
 */
export async function startReplica(
  primaryUrl: string,
  port: number,
  log: (line: string) => void = () => undefined,
): Promise<Replica> {
  const url = new URL(primaryUrl);
  const primary = new Client({ connectionString: primaryUrl });
  await primary.connect();
  let settings: Map<string, string>;
  let major: number;
  try {
    const rows = (
      await primary.query("SELECT name, setting FROM pg_settings WHERE name = ANY($1)", [
        [...STANDBY_MINIMUMS, "wal_level", "server_version_num"],
      ])
    ).rows;
    settings = new Map(rows.map((row: { name: string; setting: string }) => [row.name, row.setting]));
    if (settings.get("wal_level") === "minimal")
      throw new Error(
        "the primary runs with wal_level = minimal: set it to replica (the default) to have a streaming replica",
      );
    major = Math.floor(Number(settings.get("server_version_num")) / 10_000);
    if (!(await replicationAllowed(url))) await allowReplication(primary, url, log);
    if (!(await replicationAllowed(url)))
      throw new Error("the primary still refuses replication connections from 127.0.0.1");
  } finally {
    await primary.end();
  }

  const runner = runnerFor(major);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "admit-replica-"));
  if (runner.uid !== undefined) fs.chownSync(dir, runner.uid, runner.gid!);
  const data = path.join(dir, "data");
  const logFile = path.join(dir, "postgres.log");
  let child: ChildProcess | null = null;
  const halt = async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const running = child;
      const exited = new Promise((resolve) => running.once("exit", resolve));
      // SIGINT: PostgreSQL's fast shutdown.
      running.kill("SIGINT");
      const timer = setTimeout(() => running.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
  };
  const stop = async () => {
    await halt();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const conf = path.join(dir, "postgresql.conf");
  const replicaUrl = new URL(primaryUrl);
  replicaUrl.hostname = "127.0.0.1";
  replicaUrl.port = String(port);
  const launch = async () => {
    const logFd = fs.openSync(logFile, "a");
    const started = spawn(path.join(runner.bin, "postgres"), ["-D", data, "-c", `config_file=${conf}`], {
      stdio: ["ignore", logFd, logFd],
      uid: runner.uid,
      gid: runner.gid,
      detached: true,
    });
    child = started;
    fs.closeSync(logFd);
    await waitUntilStreaming(replicaUrl.toString(), () => started.exitCode !== null, logFile);
  };

  try {
    const password: Record<string, string> = url.password ? { PGPASSWORD: decodeURIComponent(url.password) } : {};
    const user = decodeURIComponent(url.username || "postgres");
    // -R: standby.signal and primary_conninfo; -X stream: the WAL of the copy's own duration.
    run(
      runner,
      "pg_basebackup",
      ["-h", url.hostname, "-p", url.port || "5432", "-U", user, "-D", data, "-X", "stream", "-R", "-c", "fast"],
      password,
    );
    // The configuration is written beside the data: Debian keeps the primary's in /etc, so the
    // copy has none of its own; the standby minimums are the primary's.
    const hba = path.join(dir, "pg_hba.conf");
    fs.writeFileSync(
      hba,
      `local all all trust\nhost all all 127.0.0.1/32 ${url.password ? "scram-sha-256" : "trust"}\n`,
    );
    fs.writeFileSync(path.join(dir, "pg_ident.conf"), "");
    fs.writeFileSync(
      conf,
      [
        `port = ${port}`,
        "listen_addresses = '127.0.0.1'",
        `unix_socket_directories = '${dir}'`,
        `hba_file = '${hba}'`,
        `ident_file = '${path.join(dir, "pg_ident.conf")}'`,
        "hot_standby = on",
        ...STANDBY_MINIMUMS.map((name) => `${name} = ${settings.get(name)}`),
        "",
      ].join("\n"),
    );
    for (const file of [hba, conf, path.join(dir, "pg_ident.conf")])
      if (runner.uid !== undefined) fs.chownSync(file, runner.uid, runner.gid!);
    await launch();
    // SIGQUIT: PostgreSQL's immediate shutdown.
    const killNow = () => {
      const running = child;
      if (running && running.exitCode === null && running.signalCode === null) running.kill("SIGQUIT");
    };
    return { url: replicaUrl.toString(), port, logFile, stop, halt, resume: launch, killNow };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function waitUntilStreaming(url: string, exited: () => boolean, logFile: string): Promise<void> {
  const until = Date.now() + 60_000;
  let last: unknown = null;
  while (Date.now() < until) {
    if (exited())
      throw new Error(
        `the replica's postgres exited: ${fs.readFileSync(logFile, "utf8").trim().split("\n").slice(-5).join("\n")}`,
      );
    const client = new Client({ connectionString: url });
    try {
      await client.connect();
      const { rows } = await client.query<{ standby: boolean; receiver: string | null }>(
        "SELECT pg_is_in_recovery() AS standby, (SELECT status FROM pg_stat_wal_receiver) AS receiver",
      );
      if (rows[0].standby && rows[0].receiver === "streaming") return;
      last = `recovery ${String(rows[0].standby)}, WAL receiver ${String(rows[0].receiver)}`;
    } catch (error) {
      last = error;
    } finally {
      await client.end().catch(() => undefined);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`the replica did not start streaming within 60 s (${String(last)})`);
}
