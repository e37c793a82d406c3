// The first screen when several servers are configured (BACKUP_<NAME>=postgresql://...) and none is
// named by RESTORE_SERVER: which server's backups to work with. Plain state and keys, unit-tested.
import type { KeyPress } from './keys.js';

export interface ServerChoice {
  name: string;
  /** The server as the tools reach it ("backup@db1:5432"), never a password. */
  where: string;
  /** Its backups on local disk: <BACKUP_DIR>/<name>. */
  backupDir: string;
}

export interface ServerPickState {
  servers: ServerChoice[];
  cursor: number;
}

export type ServerPickOutcome = { state: ServerPickState } | { chosen: ServerChoice } | { quit: true };

export function serverPickKey(state: ServerPickState, input: string, key: KeyPress): ServerPickOutcome {
  const last = state.servers.length - 1;
  const move = (cursor: number): ServerPickOutcome => ({ state: { ...state, cursor: Math.max(0, Math.min(last, cursor)) } });
  if (key.upArrow || input === 'k') return move(state.cursor - 1);
  if (key.downArrow || input === 'j') return move(state.cursor + 1);
  if (key.home) return move(0);
  if (key.end) return move(last);
  if (key.return) return { chosen: state.servers[state.cursor]! };
  if (input === 'q' || key.escape || (key.ctrl && input === 'c')) return { quit: true };
  // A digit picks the server of that number (1-9), as shown in the list.
  if (/^[1-9]$/.test(input) && Number(input) - 1 <= last) return { chosen: state.servers[Number(input) - 1]! };
  return { state };
}

export const SERVER_PICK_KEYS = '↑↓ move  Enter open  1-9 pick  q quit';
