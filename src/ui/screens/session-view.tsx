// The whole terminal for a state: the current screen in its frame, or the help overlay.
import { Box } from 'ink';
import { fit, oneLine } from '../format.js';
import { keyHints } from '../state/keys.js';
import { current, targetOf } from '../state/select.js';
import type { Job, Screen, State } from '../state/types.js';
import { BackupScreen, PickDatabaseScreen } from './backup-screen.js';
import { BackupsScreen } from './backups-screen.js';
import { bodyRows, Frame } from './frame.js';
import { PlanScreen } from './plan-screen.js';
import { SetupScreen } from './setup-screen.js';
import { PickTablesScreen } from './pick-tables-screen.js';
import { Tone } from './tone.js';
import { ResultScreen, WorkScreen } from './work-screen.js';

const WORKING: Record<Job['kind'], string> = { restore: 'restoring', backup: 'backing up', verify: 'verifying', drill: 'drilling' };

/** Where the operator is, for the title line. */
export function breadcrumb(stack: Screen[]): string[] {
  return stack.map((s) => {
    switch (s.name) {
      case 'backups':
        return 'backups';
      case 'backup':
        return s.folder;
      case 'pick-db':
        return 'pick a database';
      case 'setup':
        return `restore ${JSON.stringify(oneLine(s.choice.database ?? ''))}`;
      case 'pick-tables':
        return 'pick tables';
      case 'plan':
        return s.choice.type === 'database' ? `plan (into ${JSON.stringify(oneLine(targetOf(s.choice) ?? ''))})` : `plan (${s.choice.type})`;
      case 'work':
        return WORKING[s.job.kind];
      case 'result':
        return 'result';
    }
  });
}

export const HELP_LINES = [
  'pg-backups finds the backups on every source (BACKUP_DIR, S3, the remote host),',
  'checks and restores them. Nothing changes before a plan is shown and confirmed.',
  '',
  'Everywhere  ↑↓ or j/k move · PgUp/PgDn page · g/G first/last · Enter open/do',
  '            Esc back · q quit (asks while work runs) · ? help · Ctrl-C quit',
  'Backups     / filter (folder, database, status, source) · b back up now',
  '            r list the sources again',
  'A backup    restore one database, the cluster or the globals · v verify it',
  '            d drill: restore into scratch databases, check every row count',
  '            c read another copy (default: nearest: local, remote, then S3)',
  'Setup       n restore as <name>_restored (a test restore) · e type a name',
  '            o the original name (replaces the database if it exists)',
  '            t (custom-format backups) pick tables: Space marks, Enter done',
  'Plan        replacing a database asks for its name, typed exactly; a cluster',
  '            asks for the server host:port; a new name needs only Enter',
  'Work        Esc or Ctrl-C asks "stop?": y stops and cleans up (staging',
  '            databases dropped, the target as it was); Ctrl-C again: at once',
  'Every session writes its full log under RESTORE_DIR; a summary stays on exit.',
];

export function SessionView(props: { state: State; logPath?: string }) {
  const { state } = props;
  const screen = current(state);
  const height = bodyRows(state.rows);
  const right = state.help ? 'help' : '? help';
  let body;
  if (state.help) {
    body = (
      <Box flexDirection="column">
        {HELP_LINES.slice(0, height - 1).map((l, i) => (
          <Tone key={i}>{fit(l, state.columns) || ' '}</Tone>
        ))}
        {props.logPath ? <Tone tone="dim">{fit(`This session's log: ${props.logPath}`, state.columns)}</Tone> : null}
      </Box>
    );
  } else {
    switch (screen.name) {
      case 'backups':
        body = <BackupsScreen state={state} screen={screen} height={height} />;
        break;
      case 'backup':
        body = <BackupScreen state={state} screen={screen} height={height} />;
        break;
      case 'pick-db':
        body = <PickDatabaseScreen state={state} screen={screen} height={height} />;
        break;
      case 'setup':
        body = <SetupScreen state={state} screen={screen} />;
        break;
      case 'pick-tables':
        body = <PickTablesScreen state={state} screen={screen} height={height} />;
        break;
      case 'plan':
        body = <PlanScreen state={state} screen={screen} height={height} />;
        break;
      case 'work':
        body = <WorkScreen state={state} screen={screen} height={height} />;
        break;
      case 'result':
        body = (
          <Box flexDirection="column">
            <ResultScreen state={state} screen={screen} />
            {props.logPath ? <Tone tone="dim" wrap="wrap">{`This session's log: ${props.logPath}`}</Tone> : null}
          </Box>
        );
        break;
    }
  }
  return (
    <Frame where={state.help ? [...breadcrumb(state.stack), 'help'] : breadcrumb(state.stack)} right={right} keys={keyHints(state)} columns={state.columns} rows={state.rows}>
      {body}
    </Frame>
  );
}
