// Which server: shown first when several servers are configured and RESTORE_SERVER names none.
import { useRef, useState } from 'react';
import { Box, useInput, useStdout } from 'ink';
import { serverPickKey, SERVER_PICK_KEYS, type ServerChoice, type ServerPickState } from '../state/server-pick.js';
import { fit } from '../format.js';
import { Frame } from './frame.js';
import { Tone } from './tone.js';

export function ServersScreen(props: { servers: ServerChoice[]; onChoose(server: ServerChoice): void; onQuit(): void }) {
  const { stdout } = useStdout();
  const [state, setState] = useState<ServerPickState>({ servers: props.servers, cursor: 0 });
  // Keys can come faster than renders (a burst): each is applied to the state the last one left.
  const latest = useRef(state);
  useInput((input, key) => {
    const outcome = serverPickKey(latest.current, input, key);
    if ('chosen' in outcome) props.onChoose(outcome.chosen);
    else if ('quit' in outcome) props.onQuit();
    else {
      latest.current = outcome.state;
      setState(outcome.state);
    }
  });
  const columns = stdout.columns || 80;
  return (
    <Frame where={['servers']} right={`${props.servers.length} servers`} keys={SERVER_PICK_KEYS} columns={columns} rows={stdout.rows || 24}>
      <Tone>Which server's backups? Several are backed up here.</Tone>
      <Tone tone="dim">(RESTORE_SERVER=NAME opens one directly.)</Tone>
      <Box flexDirection="column" marginTop={1}>
        {state.servers.map((s, i) => (
          <Tone key={s.name} inverse={i === state.cursor}>
            {fit(`${i === state.cursor ? '›' : ' '} ${i < 9 ? `${i + 1}` : ' '}  ${s.name.padEnd(16)} ${s.where}   backups in ${s.backupDir}`, columns)}
          </Tone>
        ))}
      </Box>
    </Frame>
  );
}
