// Plain data for the terminal UI's reducer and screen tests: backup entries as a source lists them,
// plans as core's planRestore returns them. Nothing here stands in for PostgreSQL or S3: the screens
// take plain state, and these are such states.
import type { Manifest } from '../../src/core/backup/manifest.js';
import { folderFiles } from './fake-backup.js';
import type { RestorePlan } from '../../src/core/restore/plan.js';
import type { BackupEntry, SourceKind } from '../../src/core/source.js';
import { reduce, initialState } from '../../src/ui/state/reducer.js';
import type { Action } from '../../src/ui/state/actions.js';
import { keyAction } from '../../src/ui/state/keys.js';
import type { State } from '../../src/ui/state/types.js';

export const NOW = Date.UTC(2025, 9, 5, 14, 0, 0);

export function folderAt(hoursAgo: number): string {
  const d = new Date(NOW - hoursAgo * 3600_000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}_${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

function timeOf(folder: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})_(\d{2})(\d{2})(\d{2})$/.exec(folder)!;
  return new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
}

export function entry(folder: string, databases: string[] = ['app', 'shop'], status: BackupEntry['status'] = 'finished'): BackupEntry {
  const manifest = JSON.parse(folderFiles(folder, databases)['manifest.json']!.toString()) as Manifest;
  return {
    folder,
    time: timeOf(folder),
    status,
    manifest: status === 'legacy' ? undefined : manifest,
    files: manifest.files.map((f) => ({ name: f.name, bytes: f.bytes })),
  };
}

export const SOURCES: Array<{ kind: SourceKind; location: string }> = [
  { kind: 'local', location: '/backups' },
  { kind: 's3', location: 's3://bucket/prod' },
  { kind: 'remote', location: 'backup@vault:/srv/pg' },
];

export function start(opts: { columns?: number; rows?: number; sources?: typeof SOURCES } = {}): State {
  return initialState({
    serverWhere: 'postgres@db.internal:5432',
    serverAddress: 'db.internal:5432',
    sources: opts.sources ?? SOURCES,
    columns: opts.columns ?? 80,
    rows: opts.rows ?? 24,
    now: NOW,
  });
}

export function run(state: State, ...actions: Action[]): State {
  return actions.reduce(reduce, state);
}

/** One key as Ink gives it (input and flags), read against the state. */
export function key(state: State, input: string, k: Record<string, boolean> = {}): State {
  const a = keyAction(state, input, k);
  return a ? run(state, a) : state;
}

/** Keys one after the other: a string is typed input, an object a special key ({ return: true }). */
export function press(state: State, ...keys: Array<string | Record<string, boolean>>): State {
  return keys.reduce<State>((s, k) => (typeof k === 'string' ? key(s, k) : key(s, '', k)), state);
}

/** A session whose server and sources have answered: local and s3 hold the two newest, remote is down. */
export function loaded(opts: { columns?: number; rows?: number; serverDatabases?: string[] } = {}): State {
  const a = folderAt(2);
  const b = folderAt(30);
  return run(
    start(opts),
    { type: 'server-loaded', version: '15.18', superuser: true, databases: opts.serverDatabases ?? ['postgres', 'app'] },
    { type: 'source-loaded', kind: 'local', entries: [entry(a), entry(b)] },
    { type: 'source-loaded', kind: 's3', entries: [entry(a)] },
    { type: 'source-failed', kind: 'remote', error: 'ssh: connect to host vault port 22: Connection refused' },
  );
}

export function plan(over: Partial<RestorePlan> = {}): RestorePlan {
  return {
    ok: true,
    type: 'database',
    backup: { folder: folderAt(2), source: 'local:/backups', status: 'finished', future: false, serverVersion: '15.18', pgDumpVersion: '15.18' },
    files: [{ name: 'postgres_db_shop.sql.gz', bytes: 2000, how: 'checked in place' }],
    server: { where: 'postgres@db.internal:5432', version: '15.18', major: 15, superuser: true },
    psql: { version: '15.18', dir: '/usr/lib/postgresql/15/bin' },
    database: { original: 'shop', target: 'shop', exists: false },
    creates: ['shop'],
    replaces: [],
    sessions: [],
    existingRoles: [],
    createsRoles: [],
    createsTablespaces: [],
    warnings: [],
    refusals: [],
    ...over,
  };
}
