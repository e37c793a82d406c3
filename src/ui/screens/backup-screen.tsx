// One backup: its manifest, files and databases, which copy is read, and what can be done with it.
import { Box } from 'ink';
import { fit, formatAge, formatBytes, oneLine } from '../format.js';
import { backupActions, copiesByNearness, copyOf, drillWhere, findRow, isSingleRow, listWindow, matchingNames, type BackupAction } from '../state/select.js';
import type { BackupRow, Screen, State } from '../state/types.js';
import { Tone } from './tone.js';
import { describeSingle } from '../../core/seed002.js';

export const ACTION_TEXT: Record<BackupAction, string> = {
  database: 'Restore one database...',
  cluster: 'Restore the whole cluster (onto a fresh server)',
  globals: 'Restore the globals only (roles, tablespaces)',
  verify: 'Verify this copy now (reads every file)',
  drill: "Drill: restore it into scratch databases and check every table's row count",
};

/** The manifest in two lines: when, and made of what. */
export function manifestLines(row: BackupRow): [string, string] {
  const m = row.copies.find((c) => c.entry.manifest)?.entry.manifest;
  const single = row.copies.find((c) => c.entry.single)?.entry.single;
  if (single) return [describeSingle(single), "no manifest: gzip and pg_dump's closing line are checked as it is read"];
  if (!m) return [row.status === 'legacy' ? 'legacy backup (the bash tool): no manifest' : 'no manifest that can be read', 'its files are checked by gzip alone'];
  return [`started ${m.startedAt}, finished ${m.finishedAt}`, `PostgreSQL ${m.server.version} · pg_dump ${m.pgDump.version} · ${m.tool.name} ${m.tool.version}`];
}

export function BackupScreen(props: { state: State; screen: Extract<Screen, { name: 'backup' }>; height: number }) {
  const { state, screen } = props;
  const { columns } = state;
  const row = findRow(state, screen.folder);
  if (!row) return <Tone tone="bad">{`Backup ${screen.folder} is no longer listed (reloaded?). Esc goes back.`}</Tone>;
  const copy = copyOf(row, screen.copy) ?? row.copies[0]!;
  const copies = copiesByNearness(row);
  const files = copy.entry.manifest?.files ?? copy.entry.files;
  const actions = backupActions(row);
  // Lines other than the files: 5 head lines, the files header, databases, actions header + actions
  // (and where a drill's scratch databases go).
  const drillLine = actions.includes('drill') ? 1 : 0;
  const fileLines = Math.max(1, props.height - 5 - 1 - 1 - 1 - Math.max(1, actions.length) - drillLine);
  const shown = files.slice(0, files.length > fileLines ? fileLines - 1 : fileLines);
  return (
    <Box flexDirection="column">
      <Tone bold>{fit(`Backup ${row.folder} · ${row.status}${row.future ? ' · DATED IN THE FUTURE' : ''} · made ${formatAge(row.time, new Date(state.now))}`, columns)}</Tone>
      {manifestLines(row).map((l) => (
        <Tone key={l}>{fit(l, columns)}</Tone>
      ))}
      {row.problem ? <Tone tone="bad">{fit(`problem: ${oneLine(row.problem)}`, columns)}</Tone> : <Tone> </Tone>}
      <Tone tone="accent">
        {fit(
          `Copy read: ${copy.kind} ${copy.location}${copies.length > 1 ? `  (${copies.findIndex((c) => c.kind === copy.kind) + 1} of ${copies.length}; c: use the copy on ${copies[(copies.findIndex((c) => c.kind === copy.kind) + 1) % copies.length]!.kind})` : ''}`,
          columns,
        )}
      </Tone>
      <Tone tone="dim">{fit(`Files (${files.length}, ${formatBytes(files.reduce((n, f) => n + f.bytes, 0))}):`, columns)}</Tone>
      {shown.map((f) => (
        <Tone key={f.name}>{fit(`  ${formatBytes(f.bytes).padStart(9)}  ${oneLine(f.name)}`, columns)}</Tone>
      ))}
      {files.length > shown.length ? <Tone tone="dim">{`  ... and ${files.length - shown.length} more`}</Tone> : null}
      <Tone>{fit(isSingleRow(row) ? 'Databases: one, whose name the file does not record' : `Databases (${row.databases.length}): ${row.databases.map((d) => oneLine(d)).join(', ') || '-'}`, columns)}</Tone>
      <Tone tone="dim">What to do:</Tone>
      {actions.length === 0 ? <Tone tone="bad">  nothing: this folder is not one pg-backups wrote</Tone> : null}
      {actions.map((a, i) => (
        <Tone key={a} inverse={i === screen.cursor}>{`${i === screen.cursor ? '>' : ' '} ${ACTION_TEXT[a]}`}</Tone>
      ))}
      {drillLine ? <Tone tone="dim">{fit(`  (d) into scratch databases on ${drillWhere(state)}; dropped after`, columns)}</Tone> : null}
    </Box>
  );
}

export function PickDatabaseScreen(props: { state: State; screen: Extract<Screen, { name: 'pick-db' }>; height: number }) {
  const { state, screen } = props;
  const row = findRow(state, screen.folder);
  const names = matchingNames(row?.databases ?? [], screen.list.filter);
  const existing = new Set(state.server.databases ?? []);
  const listHeight = Math.max(1, props.height - 3);
  const win = listWindow(names.length, screen.list.cursor, listHeight);
  return (
    <Box flexDirection="column">
      <Tone bold>{fit(`Restore one database of ${screen.folder} (copy on ${screen.copy}): which one?`, state.columns)}</Tone>
      <Tone tone="accent">
        {screen.list.filtering || screen.list.filter ? fit(`Filter: ${screen.list.filter}${screen.list.filtering ? '_' : ''}  (${names.length} of ${row?.databases.length ?? 0})`, state.columns) : '/ filters the list'}
      </Tone>
      {names.length === 0 ? <Tone>{`  no database matches "${screen.list.filter}"`}</Tone> : null}
      {names.slice(win.start, win.end).map((name, i) => {
        const at = win.start + i;
        const selected = at === screen.list.cursor;
        const note = existing.has(name) ? '  (exists on the server)' : '';
        return (
          <Tone key={name} inverse={selected}>
            {fit(`${selected ? '>' : ' '} ${oneLine(name)}${note}`, state.columns)}
          </Tone>
        );
      })}
      {names.length > listHeight ? <Tone tone="dim">{`  ${screen.list.cursor + 1} of ${names.length}`}</Tone> : null}
    </Box>
  );
}
