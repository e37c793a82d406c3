// The pick list of a custom-format backup's tables (its archive's table of contents): the ones
// marked are restored, with what they need, into a new database; none marked means all of them.
import { Box } from 'ink';
import { fit, oneLine } from '../format.js';
import { pickableTables } from '../state/reducer.js';
import { listWindow, tableKey, tableLabel } from '../state/select.js';
import type { Screen, State } from '../state/types.js';
import { Tone } from './tone.js';

export function PickTablesScreen(props: { state: State; screen: Extract<Screen, { name: 'pick-tables' }>; height: number }) {
  const { state, screen } = props;
  const columns = state.columns;
  const head = `Tables of database ${JSON.stringify(oneLine(screen.choice.database ?? ''))} in ${screen.choice.folder} (copy on ${screen.choice.copy})`;
  if (screen.error) {
    return (
      <Box flexDirection="column">
        <Tone bold>{fit(head, columns)}</Tone>
        <Tone tone="bad" wrap="wrap">{`Cannot read the archive's table of contents: ${screen.error}`}</Tone>
      </Box>
    );
  }
  if (!screen.tables) {
    return (
      <Box flexDirection="column">
        <Tone bold>{fit(head, columns)}</Tone>
        <Tone>reading the archive's table of contents...</Tone>
      </Box>
    );
  }
  const shown = pickableTables(screen);
  const listHeight = Math.max(1, props.height - 4);
  const win = listWindow(shown.length, screen.list.cursor, listHeight);
  const count = screen.picked.length;
  return (
    <Box flexDirection="column">
      <Tone bold>{fit(head, columns)}</Tone>
      <Tone tone={count > 0 ? 'warn' : undefined}>
        {fit(count > 0 ? `${count} marked: only these (with their indexes, constraints, sequences, triggers) go into a NEW database` : 'None marked: the whole database is restored. Space marks a table.', columns)}
      </Tone>
      <Tone tone="accent">
        {screen.list.filtering || screen.list.filter ? fit(`Filter: ${screen.list.filter}${screen.list.filtering ? '_' : ''}  (${shown.length} of ${screen.tables.length})`, columns) : '/ filters the list'}
      </Tone>
      {shown.length === 0 ? <Tone>{`  no table matches "${screen.list.filter}"`}</Tone> : null}
      {shown.slice(win.start, win.end).map((t, i) => {
        const at = win.start + i;
        const selected = at === screen.list.cursor;
        const mark = screen.picked.includes(tableKey(t)) ? '[x]' : '[ ]';
        const kind = t.kind === 'TABLE' ? '' : `  (${t.kind.toLowerCase()})`;
        return (
          <Tone key={tableKey(t)} inverse={selected}>
            {fit(`${selected ? '>' : ' '} ${mark} ${oneLine(tableLabel(t))}${kind}`, columns)}
          </Tone>
        );
      })}
      {shown.length > listHeight ? <Tone tone="dim">{`  ${screen.list.cursor + 1} of ${shown.length}`}</Tone> : null}
    </Box>
  );
}
