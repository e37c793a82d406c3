// The result of a drill: the verdict with its exit code, then a table of the databases (restore
// time, size, tables checked, differences), the first differences and failures in words, and the
// job's lines. Rows and details that do not fit are counted ("and N more"); the session log has all.
import { Box } from 'ink';
import type { DrillDatabaseResult, DrillReport } from '../../core/drill/drill-service.js';
import { differenceText, drillVerdict, outcomeText, seconds } from '../drill-job.js';
import { cell, fit, formatBytes, oneLine } from '../format.js';
import type { Screen, State } from '../state/types.js';
import { bodyRows } from './frame.js';
import { Tone } from './tone.js';

const NAME = 22;
const TIME = 9;
const SIZE = 10;
const TABLES = 8;

/** One row of the table (also its header), in fixed columns. */
export function drillRow(name: string, time: string, size: string, tables: string, differences: string, columns: number): string {
  return fit(`${cell(name, NAME)} ${time.padStart(TIME)} ${size.padStart(SIZE)} ${tables.padStart(TABLES)}  ${differences}`, columns);
}

function differencesCell(r: DrillDatabaseResult): string {
  if (r.outcome === 'failed' || r.outcome === 'damaged') return outcomeText(r);
  if (r.counts === 'not recorded') return 'counts not recorded';
  return r.differences.length === 0 ? 'none' : `${r.differences.length} differ`;
}

/** What the table's rows do not say: each difference, each failure, each scratch database left. */
function details(report: DrillReport): Array<{ tone: 'bad' | 'warn'; text: string }> {
  const out: Array<{ tone: 'bad' | 'warn'; text: string }> = [];
  const name = (r: DrillDatabaseResult) => JSON.stringify(oneLine(r.database));
  // Failures first: one line each, where many differences of one table list could hide them.
  for (const r of report.databases) if (r.error) out.push({ tone: 'bad', text: `${name(r)}: ${oneLine(r.error)}` });
  for (const r of report.databases) if (r.cleanupError) out.push({ tone: 'warn', text: oneLine(r.cleanupError) });
  for (const r of report.databases) for (const d of r.differences) out.push({ tone: 'bad', text: `${name(r)} ${oneLine(differenceText(d))}` });
  return out;
}

export function DrillResult(props: { state: State; screen: Extract<Screen, { name: 'result' }>; report: DrillReport }) {
  const { state, screen, report } = props;
  const { columns } = state;
  const r = screen.result;
  const dbs = report.databases;
  const notes = details(report);
  // The frame's body less: head, verdict (up to 2 lines), blank, header, blank, the job's lines, the exit
  // code, the session log's line (up to 2).
  const room = Math.max(2, bodyRows(state.rows) - 9 - r.lines.length);
  // The databases first (a few lines kept for the details), then as many details as fit.
  const rowRoom = Math.max(2, room - Math.min(notes.length, 3));
  const rows = dbs.length > rowRoom ? dbs.slice(0, rowRoom - 1) : dbs;
  const noteRoom = Math.max(1, room - rows.length - (rows.length < dbs.length ? 1 : 0));
  const shownNotes = notes.length > noteRoom ? notes.slice(0, noteRoom - 1) : notes;
  return (
    <Box flexDirection="column">
      <Tone tone={r.ok ? 'ok' : 'bad'} bold>{fit(`${r.ok ? 'Done' : 'FAILED'}: ${screen.job.title}`, columns)}</Tone>
      <Tone tone={r.ok ? 'ok' : 'bad'} wrap="wrap">{drillVerdict(report)}</Tone>
      <Tone> </Tone>
      <Tone tone="dim">{drillRow('database', 'restore', 'size', 'tables', 'differences', columns)}</Tone>
      {rows.map((d) => (
        <Tone key={d.database} tone={d.outcome === 'passed' ? undefined : 'bad'}>
          {drillRow(oneLine(d.database), seconds(d), formatBytes(d.bytes), d.outcome === 'passed' || d.outcome === 'differences' ? String(d.tablesChecked) : '-', differencesCell(d), columns)}
        </Tone>
      ))}
      {rows.length < dbs.length ? <Tone tone="dim">{`  ... and ${dbs.length - rows.length} more databases (in the session log)`}</Tone> : null}
      {shownNotes.map((n, i) => (
        <Tone key={i} tone={n.tone}>
          {fit(`  ${n.text}`, columns)}
        </Tone>
      ))}
      {shownNotes.length < notes.length ? <Tone tone="dim">{`  ... and ${notes.length - shownNotes.length} more`}</Tone> : null}
      <Tone> </Tone>
      {r.lines.map((l, i) => (
        <Tone key={i}>{fit(l, columns)}</Tone>
      ))}
      <Tone tone="dim">{`exit code if you quit now: ${state.exitCode}`}</Tone>
    </Box>
  );
}
