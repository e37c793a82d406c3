// The preflight plan as lines for a terminal log (restore --dry-run).
import type { RestorePlan } from '../core/restore/plan.js';
import { formatBytes } from './output.js';
import { quoteName } from '../core/restore/archive-select.js';

const q = (names: string[]) => names.map((n) => JSON.stringify(n)).join(', ');

export function planLines(plan: RestorePlan): string[] {
  const lines: string[] = [];
  const row = (label: string, text: string) => lines.push(`  ${label.padEnd(9)} ${text}`);
  lines.push(`restore plan (${plan.ok ? 'would start' : 'would be REFUSED'}; dry run: nothing was changed)`);
  const b = plan.backup;
  const made = [b.serverVersion ? `PostgreSQL ${b.serverVersion}` : '', b.pgDumpVersion ? `pg_dump ${b.pgDumpVersion}` : '', b.startedAt ? `started ${b.startedAt}` : ''].filter(Boolean);
  row('backup', `${b.folder} on ${b.source} (${b.status}${b.future ? ', dated in the future' : ''}${made.length ? `; ${made.join(', ')}` : ''})`);
  if (b.signature) row('signature', b.signature);
  for (const f of plan.files) row('file', `${f.name}, ${formatBytes(f.bytes)}, ${f.how}`);
  if (plan.download) {
    const free = plan.download.freeBytes === undefined ? 'free space unknown' : `${formatBytes(plan.download.freeBytes)} free`;
    row('download', `${formatBytes(plan.download.bytes)} into ${plan.download.dir} (${free})`);
  }
  row('server', plan.server ? `${plan.server.where}, PostgreSQL ${plan.server.version}${plan.server.superuser ? '' : ' (not as a superuser)'}` : 'not reachable (see below)');
  row('psql', plan.psql ? `${plan.psql.version} in ${plan.psql.dir}` : 'none found (see below)');
  if (plan.database) {
    const d = plan.database;
    row('database', `${JSON.stringify(d.original)}${d.target !== d.original ? ` restored as ${JSON.stringify(d.target)}` : ''}, into a staging database first, swapped in when psql has finished`);
  }
  if (plan.archive) {
    const a = plan.archive;
    row('archive', a.mode === 'streamed' ? 'custom format: streamed through pg_restore in one pass (RESTORE_JOBS=1)' : `custom format: pg_restore --jobs=${a.jobs} from ${plan.files[0]?.how === 'downloaded' ? 'the copy downloaded into RESTORE_DIR' : 'the file in place'}`);
    if (a.selection) row('only', `${a.selection.join(', ')} (and what they need: data, indexes, constraints, sequences, defaults, triggers, comments, grants)`);
    if (a.tables) {
      const shown = a.tables.slice(0, 200).map((t) => `${quoteName(t.schema)}.${quoteName(t.name)}${t.kind === 'TABLE' ? '' : ` (${t.kind.toLowerCase()})`}`);
      row('tables', `${a.tables.length} in the archive${shown.length > 0 ? `: ${shown.join(', ')}${a.tables.length > shown.length ? ', ...' : ''}` : ''}`);
    }
  }
  if (plan.cluster?.staged) {
    row('cluster', `the globals first, then ${plan.cluster.databases.length} database(s) into staging databases, ${plan.cluster.jobs} at a time; put in place under their real names only when every one is restored`);
  } else if (plan.cluster) {
    row('cluster', 'the cluster file as one psql run (not staged: a failure part-way leaves part of the cluster on the server)');
  }
  if (plan.creates.length > 0) row('creates', `database(s) ${q(plan.creates)}`);
  for (const name of plan.replaces) {
    const sessions = plan.sessions.find((s) => s.database === name)?.count ?? 0;
    row('replaces', `database ${JSON.stringify(name)}${sessions > 0 ? ` (${sessions} session(s) will be ended)` : ''}`);
  }
  if (plan.createsRoles.length > 0) row('roles', `creates ${q(plan.createsRoles)}`);
  if (plan.existingRoles.length > 0) row('roles', `exist already: ${q(plan.existingRoles)}`);
  if (plan.createsTablespaces.length > 0) row('tblspaces', `creates ${q(plan.createsTablespaces)}`);
  for (const w of plan.warnings) row('warning', w);
  for (const r of plan.refusals) row('REFUSED', r.message);
  return lines;
}
