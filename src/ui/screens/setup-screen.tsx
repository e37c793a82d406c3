// Restore setup of one database: the name it lands under, and whether that replaces anything.
import { Box } from 'ink';
import { fit, oneLine } from '../format.js';
import { isArchiveChoice, tableLabel, targetOf } from '../state/select.js';
import type { Screen, State } from '../state/types.js';
import { Tone } from './tone.js';

export function SetupScreen(props: { state: State; screen: Extract<Screen, { name: 'setup' }> }) {
  const { state, screen } = props;
  const { choice } = screen;
  const columns = state.columns;
  const target = targetOf(choice)!;
  const q = (s: string) => JSON.stringify(oneLine(s));
  const server = state.server;
  // A seed 002 file does not say which database it held: the name is asked first.
  const unnamed = choice.single === true && !choice.database;
  const title = choice.single
    ? `Restore the one database of ${choice.folder}${choice.database ? ` as ${q(choice.database)}` : ''} (copy on ${choice.copy})`
    : `Restore database ${q(choice.database!)} from ${choice.folder} (copy on ${choice.copy})`;
  return (
    <Box flexDirection="column">
      <Tone bold>{fit(title, columns)}</Tone>
      <Tone>{fit(`onto ${server.where}${server.version ? ` (PostgreSQL ${server.version})` : ''}`, columns)}</Tone>
      <Tone> </Tone>
      {unnamed ? (
        <Box flexDirection="column">
          <Tone>{fit('A seed 002 backup file (pg_dump of one database): it does not say which database it held.', columns)}</Tone>
          <Tone tone="accent">{fit(`Name to restore it under: ${screen.draft}_`, columns)}</Tone>
          <Tone tone="dim">{fit('Enter keeps the name (the next step says whether it exists) · Esc goes back', columns)}</Tone>
        </Box>
      ) : screen.editing ? (
        <Tone tone="accent">{fit(`Target name: ${screen.draft}_`, columns)}</Tone>
      ) : (
        <Tone bold>{fit(`Target name: ${q(target)}${target === choice.database ? ' (the original name)' : ''}`, columns)}</Tone>
      )}
      {unnamed ? null : server.state !== 'ok' ? (
        <Tone tone="warn">{fit(`The server has not answered yet: the plan will say whether ${q(target)} exists.`, columns)}</Tone>
      ) : choice.overwrite ? (
        <Box flexDirection="column">
          <Tone tone="warn" bold>{fit(`${q(target)} EXISTS on the server: it will be REPLACED`, columns)}</Tone>
          <Tone>{fit('once the restore has succeeded (sessions on it are ended then); until then it stays as it is.', columns)}</Tone>
          <Tone>{fit(`You will type its name to confirm. n restores as ${q(`${choice.database}_restored`)} instead.`, columns)}</Tone>
        </Box>
      ) : (
        <Box flexDirection="column">
          <Tone tone="ok">{fit(`${q(target)} does not exist on the server: it will be CREATED.`, columns)}</Tone>
          <Tone>{fit('Nothing that exists is replaced.', columns)}</Tone>
        </Box>
      )}
      {isArchiveChoice(state, choice) ? (
        <Tone tone={choice.tables ? 'warn' : undefined}>
          {fit(choice.tables ? `Only the tables ${choice.tables.map(tableLabel).join(', ')} (t: change)` : 'Tables: all of them (t: pick some; a custom-format backup)', columns)}
        </Tone>
      ) : null}
      <Tone> </Tone>
      <Tone tone="dim">{fit('The restore goes into a staging database first and takes its name only when it has finished.', columns)}</Tone>
    </Box>
  );
}
