// The preflight plan of core, and the confirmation: a restore that replaces anything goes ahead
// only once the operator has typed the name of what it replaces; a refused plan cannot start.
import { Box } from 'ink';
import { planLines } from '../../commands/restore-plan-text.js';
import { fit, oneLine, wrapText } from '../format.js';
import { restoreTitle } from '../state/reducer.js';
import { confirmationText } from '../state/select.js';
import type { Screen, State } from '../state/types.js';
import { spinner } from './backups-screen.js';
import { Tone } from './tone.js';

/** The plan's rows, as `restore --dry-run` prints them (without its heading), wrapped to the width. */
export function planRows(plan: NonNullable<Extract<Screen, { name: 'plan' }>['plan']>, columns: number): string[] {
  return planLines(plan)
    .slice(1)
    .flatMap((l) => {
      const [label = '', ...wrapped] = wrapText(oneLine(l), columns, 12);
      return [label, ...wrapped];
    });
}

export function PlanScreen(props: { state: State; screen: Extract<Screen, { name: 'plan' }>; height: number }) {
  const { state, screen } = props;
  const { columns } = state;
  const title = <Tone bold>{fit(`Plan: ${restoreTitle(screen.choice)}`, columns)}</Tone>;
  if (screen.error) {
    return (
      <Box flexDirection="column">
        {title}
        <Tone tone="bad" wrap="wrap">{`The plan could not be made: ${oneLine(screen.error)}`}</Tone>
        <Tone>Nothing was changed. Esc goes back.</Tone>
      </Box>
    );
  }
  if (!screen.plan) {
    return (
      <Box flexDirection="column">
        {title}
        <Tone tone="busy">{`${spinner(state.now)} checking backup, server, psql, free space... (nothing changes)`}</Tone>
      </Box>
    );
  }
  const plan = screen.plan;
  const needs = plan.ok ? confirmationText(plan, screen.choice, state.server.address) : undefined;
  const rows = planRows(plan, columns);
  const tail = plan.ok ? (needs !== undefined ? 4 : 2) : 2;
  const room = Math.max(1, props.height - 1 - tail);
  const start = Math.min(screen.scroll, Math.max(0, rows.length - room));
  const shown = rows.slice(start, start + room);
  return (
    <Box flexDirection="column">
      {title}
      {shown.map((line, i) => {
        const label = labelOf(rows, start + i);
        const refused = label === 'REFUSED';
        const replaces = label === 'replaces';
        const warning = label === 'warning';
        return (
          <Tone key={start + i} tone={refused ? 'bad' : replaces || warning ? 'warn' : undefined} bold={refused || replaces}>
            {fit(line, columns)}
          </Tone>
        );
      })}
      {rows.length > room ? <Tone tone="dim">{`  (lines ${start + 1}-${start + shown.length} of ${rows.length}; ↑↓ scroll)`}</Tone> : null}
      {!plan.ok ? (
        <Tone tone="bad" bold>{fit(`REFUSED: this restore cannot start (${plan.refusals.length} reason${plan.refusals.length === 1 ? '' : 's'} above). Nothing was changed.`, columns)}</Tone>
      ) : needs !== undefined ? (
        <Box flexDirection="column">
          <Tone tone="warn" bold>
            {fit(
              plan.type === 'cluster'
                ? `This puts a whole cluster onto ${state.server.where}. Type the server's host:port to go ahead: ${needs}`
                : plan.type === 'globals'
                  ? `This changes existing roles on ${state.server.where}. Type the server's host:port to go ahead: ${needs}`
                  : `This REPLACES database ${JSON.stringify(oneLine(needs))}. Type its name to go ahead: ${oneLine(needs)}`,
              columns,
            )}
          </Tone>
          <Tone tone="accent">{fit(`> ${screen.typed}_`, columns)}</Tone>
          {screen.wrong !== undefined ? (
            <Tone tone="bad">{fit(`"${oneLine(screen.wrong)}" is not "${oneLine(needs)}": nothing was done; type it exactly.`, columns)}</Tone>
          ) : (
            <Tone> </Tone>
          )}
        </Box>
      ) : (
        <Tone tone="ok">{fit(`Nothing that exists is replaced. Enter starts the restore; Esc goes back.`, columns)}</Tone>
      )}
    </Box>
  );
}

/** The label of a plan row, or of the row a wrapped line continues. */
function labelOf(rows: string[], at: number): string {
  for (let i = at; i >= 0; i--) {
    const m = /^ {2}(\S+)/.exec(rows[i]!);
    if (m) return m[1]!;
  }
  return '';
}
