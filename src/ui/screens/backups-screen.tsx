// The first screen: the target server, every source with its state, and the merged list of
// backups, newest first.
import { Box } from 'ink';
import { cell, fit, formatAge, formatBytes, oneLine } from '../format.js';
import { listWindow, visibleRows, backupRows } from '../state/select.js';
import type { BackupRow, Screen, ServerView, SourceView, State } from '../state/types.js';
import { Tone } from './tone.js';

const SPINNER = ['|', '/', '-', '\\'];

export function spinner(now: number): string {
  return SPINNER[Math.floor(now / 250) % SPINNER.length]!;
}

export function ServerLine(props: { server: ServerView; now: number; columns: number }) {
  const s = props.server;
  const head = `Target server ${s.where}`;
  if (s.state === 'loading') return <Tone tone="busy">{fit(`${head}  ${spinner(props.now)} connecting...`, props.columns)}</Tone>;
  if (s.state === 'failed') return <Tone tone="bad">{fit(`${head}  NOT REACHABLE: ${oneLine(s.error ?? '')}`, props.columns)}</Tone>;
  return <Tone tone="ok">{fit(`${head}  PostgreSQL ${s.version}  reachable${s.superuser ? '' : ' (not as a superuser)'}`, props.columns)}</Tone>;
}

function newestOf(source: SourceView): Date | undefined {
  return source.entries?.filter((e) => e.status !== 'foreign')[0]?.time;
}

export function SourceLine(props: { source: SourceView; now: number; columns: number }) {
  const s = props.source;
  const head = `${cell(s.kind, 6)} ${cell(s.location, Math.min(30, Math.max(10, props.columns - 50)))} `;
  if (s.state === 'loading') return <Tone tone="busy">{fit(`${head}${spinner(props.now)} listing...`, props.columns)}</Tone>;
  if (s.state === 'failed') return <Tone tone="bad">{fit(`${head}UNREACHABLE: ${oneLine(s.error ?? '')}`, props.columns)}</Tone>;
  const count = s.entries?.length ?? 0;
  const newest = newestOf(s);
  return <Tone>{fit(`${head}ok, ${count} backup${count === 1 ? '' : 's'}${newest ? `, newest ${formatAge(newest, new Date(props.now))}` : ''}`, props.columns)}</Tone>;
}

const STATUS: Record<BackupRow['status'], string> = { finished: 'finished', incomplete: 'INCOMPLETE', legacy: 'legacy', damaged: 'DAMAGED', foreign: 'not ours' };

export function rowText(row: BackupRow, now: number, columns: number): string {
  const fixed = 2 + 16 + 1 + 11 + 1 + 11 + 1 + 7 + 1 + 4 + 1 + 9 + 1;
  const age = row.future ? 'FUTURE' : formatAge(row.time, new Date(now));
  return [
    cell(row.folder, 16),
    cell(age, 11),
    cell(STATUS[row.status], 11),
    cell(row.serverVersion ?? '-', 7),
    cell(row.status === 'foreign' ? '-' : String(row.databases.length), 4),
    cell(row.status === 'foreign' ? '-' : formatBytes(row.bytes), 9),
    fit(row.copies.map((c) => c.kind).join(','), Math.max(6, columns - fixed)),
  ].join(' ');
}

export function BackupsScreen(props: { state: State; screen: Extract<Screen, { name: 'backups' }>; height: number }) {
  const { state, screen } = props;
  const { columns, now } = state;
  const rows = visibleRows(state, screen.list);
  const all = backupRows(state).length;
  const loading = state.sources.some((s) => s.state === 'loading');
  const filterShown = screen.list.filtering || screen.list.filter !== '';
  // Lines other than the list: the server, the sources, the header, and a last line (filter or position).
  const listHeight = Math.max(1, props.height - 1 - state.sources.length - 1 - 1);
  const win = listWindow(rows.length, screen.list.cursor, listHeight);
  return (
    <Box flexDirection="column">
      <ServerLine server={state.server} now={now} columns={columns} />
      {state.sources.map((s) => (
        <SourceLine key={s.kind} source={s} now={now} columns={columns} />
      ))}
      <Tone tone="dim">{fit(`  ${cell('FOLDER', 16)} ${cell('AGE', 11)} ${cell('STATUS', 11)} ${cell('SERVER', 7)} ${cell('DBS', 4)} ${cell('SIZE', 9)} SOURCES`, columns)}</Tone>
      {rows.length === 0 ? (
        <Tone tone={loading ? 'busy' : undefined}>
          {loading
            ? `  ${spinner(now)} listing the sources...`
            : all > 0
              ? `  no backup matches "${screen.list.filter}" (Esc clears the filter)`
              : '  no backups on the sources that answered; b backs up now'}
        </Tone>
      ) : (
        rows.slice(win.start, win.end).map((row, i) => {
          const at = win.start + i;
          const selected = at === screen.list.cursor;
          const bad = row.status !== 'finished' && row.status !== 'legacy';
          return (
            <Tone key={row.folder} inverse={selected} tone={bad ? 'bad' : undefined}>
              {`${selected ? '>' : ' '} ${rowText(row, now, columns)}`}
            </Tone>
          );
        })
      )}
      {filterShown ? (
        <Tone tone="accent">{fit(`Filter: ${screen.list.filter}${screen.list.filtering ? '_' : ''}  (${rows.length} of ${all})`, columns)}</Tone>
      ) : rows.length > listHeight ? (
        <Tone tone="dim">{`  ${screen.list.cursor + 1} of ${rows.length}`}</Tone>
      ) : null}
    </Box>
  );
}
