// When the terminal UI opens, and the command that opens it. Ink and React are loaded only then
// (a dynamic import), so every other command starts without them.
import { CONNECTION_OPTIONS, DESTINATION_OPTIONS, settingInput, type Command, type CommandContext } from '../commands/command.js';
import { setDecryptionKeys } from '../core/encryption/age-stream.js';
import { readDecryptionKeys } from '../core/settings/encryption.js';

/** The screen opens only for a person at a terminal: stdin and stdout TTYs, TERM not dumb, not under CI. */
export function screenWanted(env: NodeJS.ProcessEnv, stdin: { isTTY?: boolean } = process.stdin, stdout: { isTTY?: boolean } = process.stdout): boolean {
  return stdin.isTTY === true && stdout.isTTY === true && env.TERM !== 'dumb' && !env.CI && !env.CONTINUOUS_INTEGRATION;
}

/** Runs a session of the screen until the operator leaves; returns the exit code. */
export async function openScreen(ctx: CommandContext): Promise<number> {
  // Encrypted backups: the keys of RESTORE_IDENTITY_FILE / BACKUP_ENCRYPTION_KEY, whichever way the screen was opened.
  setDecryptionKeys(readDecryptionKeys(settingInput(ctx)));
  const { runScreen } = await import('./run-screen.js');
  return runScreen(ctx);
}

/** `pg-backups` with no command at a terminal: the screen, with the restore command's flags for the server and sources. */
export const screenCommand: Command = {
  name: 'screen',
  summary: 'the full-screen terminal UI (pg-backups with no command, at a terminal)',
  maxPositionals: 0,
  options: { ...CONNECTION_OPTIONS, ...DESTINATION_OPTIONS, 'backup-dir': { type: 'string' }, 'restore-dir': { type: 'string' }, 'pg-bin-dir': { type: 'string' }, server: { type: 'string' } },
  help: 'Usage: pg-backups (no command, at a terminal): the full-screen UI; ? shows its keys.\n',
  run: openScreen,
};
