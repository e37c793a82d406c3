// What the screens derive from the state: the merged backup list, filters, the window of a long
// list, the copy to read, and what a plan needs typed before it may run.
import { mergeListings } from '../../core/catalog.js';
import type { RestorePlan } from '../../core/restore/plan.js';
import type { SourceKind } from '../../core/source.js';
import type { BackupRow, CopyView, ListState, RestoreChoice, Screen, State, TableName } from './types.js';
import { quoteName } from '../../core/restore/archive-select.js';

/** Every listed backup over the sources that answered, newest first. */
export function backupRows(state: Pick<State, 'sources' | 'now'>): BackupRow[] {
  const listed = state.sources
    .filter((s) => s.state === 'ok' && s.entries)
    .map((s) => ({ source: { kind: s.kind, location: s.location }, entries: s.entries! }));
  return mergeListings(listed, new Date(state.now)).map((b) => ({
    folder: b.folder,
    time: b.time,
    status: b.status,
    future: b.future,
    problem: b.problem,
    serverVersion: b.manifest?.server.version,
    databases: b.databases,
    bytes: b.bytes,
    copies: b.copies.map((c): CopyView => ({ kind: c.source.kind, location: c.source.location, entry: c.entry })),
  }));
}

export function rowMatches(row: BackupRow, filter: string): boolean {
  if (!filter) return true;
  const f = filter.toLowerCase();
  return [row.folder, row.status, row.serverVersion ?? '', ...row.databases, ...row.copies.map((c) => c.kind)].some((t) => t.toLowerCase().includes(f));
}

export function visibleRows(state: Pick<State, 'sources' | 'now'>, list: ListState): BackupRow[] {
  return backupRows(state).filter((r) => rowMatches(r, list.filter));
}

export function matchingNames(names: string[], filter: string): string[] {
  const f = filter.toLowerCase();
  return f ? names.filter((n) => n.toLowerCase().includes(f)) : names;
}

/** The rows of a list of `count` to draw in `height` lines, keeping the cursor in the middle third. */
export function listWindow(count: number, cursor: number, height: number): { start: number; end: number } {
  const h = Math.max(1, height);
  if (count <= h) return { start: 0, end: count };
  const start = Math.min(Math.max(0, cursor - Math.floor(h / 2)), count - h);
  return { start, end: start + h };
}

/** Nearest to this machine first: local disk, then the remote host, then S3. */
const NEAR: Record<SourceKind, number> = { local: 0, remote: 1, s3: 2 };

export function copiesByNearness(row: BackupRow): CopyView[] {
  return [...row.copies].sort((a, b) => NEAR[a.kind] - NEAR[b.kind]);
}

export function findRow(state: Pick<State, 'sources' | 'now'>, folder: string): BackupRow | undefined {
  return backupRows(state).find((r) => r.folder === folder);
}

export function copyOf(row: BackupRow, kind: SourceKind): CopyView | undefined {
  return row.copies.find((c) => c.kind === kind);
}

/** The databases a backup can restore one by one (from its manifest, or its files for a legacy one). */
export function databasesOf(row: BackupRow): string[] {
  return row.databases;
}

export function targetOf(choice: RestoreChoice): string | undefined {
  return choice.type === 'database' ? (choice.target ?? choice.database) : undefined;
}

/**
 * What the operator must type before a plan runs: for a restore that replaces anything, the name of
 * the database it replaces (for a cluster, the server's host:port); undefined when Enter is enough.
 */
export function confirmationText(plan: RestorePlan, choice: RestoreChoice, clusterAddress: string): string | undefined {
  if (plan.type === 'cluster') return clusterAddress;
  if (plan.type === 'database' && plan.replaces.length > 0) return targetOf(choice);
  if (plan.type === 'globals' && choice.overwrite && plan.existingRoles.length > 0) return clusterAddress;
  return undefined;
}

/** The choice reads a custom-format backup (pg_dump -Fc archives): tables can be picked. */
export function isArchiveChoice(state: Pick<State, 'sources' | 'now'>, choice: RestoreChoice): boolean {
  const row = findRow(state, choice.folder);
  return choice.type === 'database' && row !== undefined && copyOf(row, choice.copy)?.entry.manifest?.dumpFormat === 'custom';
}

/** A table's key in a pick list: its schema and name, unambiguous whatever they hold. */
export function tableKey(t: TableName): string {
  return JSON.stringify([t.schema, t.name]);
}

/** "sales.orders" as RESTORE_TABLES writes it (quoted where needed). */
export function tableLabel(t: TableName): string {
  return `${quoteName(t.schema)}.${quoteName(t.name)}`;
}

export function current(state: State): Screen {
  return state.stack[state.stack.length - 1]!;
}

/** Whether work runs on the current screen (quitting asks first). */
export function workRunning(state: State): boolean {
  const s = current(state);
  return s.name === 'work';
}

/** The actions of a backup's screen, in the order shown. */
export type BackupAction = 'database' | 'cluster' | 'globals' | 'verify' | 'drill';

export function backupActions(row: BackupRow): BackupAction[] {
  if (row.status === 'foreign') return [];
  // A seed 002 file holds one database and nothing else; it has no manifest to drill against.
  if (isSingleRow(row)) return ['database', 'verify'];
  const actions: BackupAction[] = [];
  if (row.databases.length > 0) actions.push('database');
  actions.push('cluster', 'globals', 'verify');
  // A drill checks against the manifest: a finished backup made by pg-backups, with a database in it.
  if (canDrill(row)) actions.push('drill');
  return actions;
}

/** The server a drill's scratch databases go to, for people. */
export function drillWhere(state: Pick<State, 'server' | 'drillWhere'>): string {
  return state.drillWhere ?? state.server.where;
}

export function canDrill(row: BackupRow): boolean {
  return row.status === 'finished' && row.databases.length > 0 && row.copies.some((c) => c.entry.manifest);
}

/** A seed 002 file (backup_YYYYMMDD_HHMMSS.sql.gz[.enc]): one database, restored under a name the operator gives. */
export function isSingleRow(row: BackupRow): boolean {
  return row.copies.some((c) => c.entry.single !== undefined);
}
