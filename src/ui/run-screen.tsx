// The entry of the terminal UI: when it opens, and the session around it (the alternate screen,
// the session log, the summary left in the terminal's scrollback on exit).
import { useEffect, useState } from 'react';
import { render } from 'ink';
import { settingInput, type CommandContext } from '../commands/command.js';
import { readLocal } from '../core/settings/backup.js';
import { readPath } from '../core/settings/read.js';
import { readRestoreServer } from '../core/settings/restore.js';
import { readServerScopes } from '../core/settings/servers.js';
import { App, type AppProps } from './app.js';
import { RESTORE_DIR_SPEC, createServices, type UiServices } from './services.js';
import { ServersScreen } from './screens/servers-screen.js';
import type { ServerChoice } from './state/server-pick.js';
import { openSessionLog } from './session-log.js';
import { ColorContext, colorWanted } from './screens/tone.js';

const ALT_SCREEN_ON = '\x1b[?1049h\x1b[H';
const ALT_SCREEN_OFF = '\x1b[?1049l';

/** Runs a session until the operator leaves; returns the exit code (that of the last work done). */
export async function runScreen(ctx: CommandContext): Promise<number> {
  // Every setting is read before the screen opens: a wrong one is exit 2 with its one line, as for any
  // command. Several servers (BACKUP_<NAME>=...) and no RESTORE_SERVER: the screen asks which first.
  const input = settingInput(ctx);
  const scopes = readServerScopes(input, { ...readRestoreServer(input), folderOnly: true });
  const choices = scopes.map((scope) => ({ scope, services: createServices(scope) }));
  const services = choices.length === 1 ? choices[0]!.services : undefined;
  const log = openSessionLog(services?.restoreDir ?? readPath(input, RESTORE_DIR_SPEC) ?? '/restore');
  for (const { services: s } of choices) {
    log.write('info', `${s.serverName ? `server ${s.serverName}: ` : ''}target server ${s.serverWhere}; sources: ${s.sources.map((x) => `${x.kind}:${x.location}`).join(', ')}`);
  }
  const servers: Array<ServerChoice & { services: UiServices }> = choices.map(({ scope, services: s }) => ({
    name: scope.name ?? '',
    where: s.serverWhere,
    backupDir: readLocal(scope.input).backupDir,
    services: s,
  }));
  const stdout = process.stdout;
  stdout.write(ALT_SCREEN_ON);
  let result: { code: number; history: string[] } = { code: 0, history: [] };
  try {
    await new Promise<void>((resolve, reject) => {
      const instance = render(
        <ColorContext.Provider value={colorWanted(ctx.env)}>
          <Session
            services={services}
            servers={servers}
            log={log}
            signal={ctx.signal}
            onExit={(code, history) => {
              result = { code, history };
              instance.unmount();
            }}
          />
        </ColorContext.Provider>,
        { exitOnCtrlC: false, patchConsole: true },
      );
      instance.waitUntilExit().then(() => resolve(), reject);
    });
  } finally {
    stdout.write(ALT_SCREEN_OFF);
  }
  log.write('info', `session ended, exit code ${result.code}`);
  // The screen is gone: what happened stays in the scrollback.
  const lines = result.history.length > 0 ? result.history : ['nothing was restored, verified or backed up'];
  for (const line of lines) ctx.out.print(`pg-backups: ${line}`);
  ctx.out.print(`pg-backups: the full log of this session: ${log.path}${log.fallback ? ` (${log.fallback})` : ''}`);
  return result.code;
}

/** The server picker (when there are several), then the session of the one chosen. */
function Session(props: Omit<AppProps, 'services'> & { services?: UiServices; servers: Array<ServerChoice & { services: UiServices }> }) {
  const [chosen, setChosen] = useState<UiServices | undefined>(props.services);
  const { signal, onExit } = props;
  useEffect(() => {
    // SIGTERM/SIGINT while the picker shows: nothing is running, leave.
    if (chosen || !signal) return;
    const leave = () => onExit(0, []);
    if (signal.aborted) leave();
    signal.addEventListener('abort', leave);
    return () => signal.removeEventListener('abort', leave);
  }, [chosen, signal, onExit]);
  if (chosen) return <App {...props} services={chosen} />;
  return (
    <ServersScreen
      servers={props.servers}
      onChoose={(server) => {
        props.log.write('info', `server ${server.name} chosen`);
        setChosen(props.servers.find((s) => s.name === server.name)!.services);
      }}
      onQuit={() => props.onExit(0, [])}
    />
  );
}
