// The entry of the terminal UI: when it opens, and the session around it (the alternate screen,
// the session log, the summary left in the terminal's scrollback on exit).
import { render } from 'ink';
import { settingInput, type CommandContext } from '../commands/command.js';
import { App } from './app.js';
import { createServices } from './services.js';
import { openSessionLog } from './session-log.js';
import { ColorContext, colorWanted } from './screens/tone.js';

const ALT_SCREEN_ON = '\x1b[?1049h\x1b[H';
const ALT_SCREEN_OFF = '\x1b[?1049l';

/** Runs a session until the operator leaves; returns the exit code (that of the last work done). */
export async function runScreen(ctx: CommandContext): Promise<number> {
  // Every setting is read before the screen opens: a wrong one is exit 2 with its one line, as for any command.
  const services = createServices(settingInput(ctx));
  const log = openSessionLog(services.restoreDir);
  log.write('info', `target server ${services.serverWhere}; sources: ${services.sources.map((s) => `${s.kind}:${s.location}`).join(', ')}`);
  const stdout = process.stdout;
  stdout.write(ALT_SCREEN_ON);
  let result: { code: number; history: string[] } = { code: 0, history: [] };
  try {
    await new Promise<void>((resolve, reject) => {
      const instance = render(
        <ColorContext.Provider value={colorWanted(ctx.env)}>
          <App
            services={services}
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
