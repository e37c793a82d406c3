// Keys to actions, per screen: one place that says what every key does, unit-tested without a
// terminal. The footer of each screen (keyHints) is written from the same facts.
import type { Action } from './actions.js';
import { canDrill, confirmationText, current, findRow, isArchiveChoice } from './select.js';
import type { Screen, State } from './types.js';

/** The part of Ink's Key this needs (plain, so that tests can build it). */
export interface KeyPress {
  upArrow?: boolean;
  downArrow?: boolean;
  pageUp?: boolean;
  pageDown?: boolean;
  home?: boolean;
  end?: boolean;
  return?: boolean;
  escape?: boolean;
  ctrl?: boolean;
  meta?: boolean;
  backspace?: boolean;
  delete?: boolean;
  tab?: boolean;
}

/** Whether the keys of the screen go into a text field (filter, a typed name, a confirmation). */
export function typing(state: State, screen: Screen = current(state)): boolean {
  switch (screen.name) {
    case 'backups':
    case 'pick-db':
    case 'pick-tables':
      return screen.list.filtering;
    case 'setup':
      return screen.editing;
    case 'plan':
      return screen.plan?.ok === true && confirmationText(screen.plan, screen.choice, state.server.address) !== undefined;
    default:
      return false;
  }
}

export function keyAction(state: State, input: string, key: KeyPress): Action | undefined {
  if (key.ctrl && input === 'c') return { type: 'interrupt' };
  if (state.help) return { type: 'help' }; // any key closes the overlay
  const screen = current(state);
  const page = Math.max(1, state.rows - 10);
  if (key.upArrow) return { type: 'move', by: -1 };
  if (key.downArrow) return { type: 'move', by: 1 };
  if (key.pageUp) return { type: 'move', by: -page };
  if (key.pageDown) return { type: 'move', by: page };
  if (key.return) return { type: 'enter' };
  if (key.escape) return { type: 'back' };
  if (typing(state, screen)) {
    if (key.backspace || key.delete) return { type: 'erase' };
    if (key.ctrl || key.meta || key.tab) return undefined;
    // Printable text only (a paste arrives as one string): no control characters in a name.
    const text = input.replace(/[\x00-\x1f\x7f]/g, '');
    return text ? { type: 'text', text } : undefined;
  }
  if (screen.name === 'work' && screen.ask) {
    if (input === 'y' || input === 'Y') return { type: 'answer', yes: true };
    if (input === 'n' || input === 'N') return { type: 'answer', yes: false };
    return undefined;
  }
  if (key.home || input === 'g') return { type: 'move-to', index: 'first' };
  if (key.end || input === 'G') return { type: 'move-to', index: 'last' };
  switch (input) {
    case 'k':
      return { type: 'move', by: -1 };
    case 'j':
      return { type: 'move', by: 1 };
    case 'q':
      return { type: 'quit' };
    case '?':
      return { type: 'help' };
  }
  switch (screen.name) {
    case 'backups':
      if (input === '/') return { type: 'filter' };
      if (input === 'r') return { type: 'reload' };
      if (input === 'b') return { type: 'backup-now' };
      return undefined;
    case 'pick-db':
      return input === '/' ? { type: 'filter' } : undefined;
    case 'pick-tables':
      if (input === '/') return { type: 'filter' };
      if (input === ' ') return { type: 'toggle' };
      return undefined;
    case 'backup':
      if (input === 'c') return { type: 'next-copy' };
      if (input === 'v') return { type: 'verify' };
      if (input === 'd') return { type: 'drill' };
      return undefined;
    case 'setup':
      if (input === 'n') return { type: 'target', how: 'restored' };
      if (input === 'o') return { type: 'target', how: 'original' };
      if (input === 'e') return { type: 'target', how: 'edit' };
      if (input === 't') return { type: 'pick-tables' };
      return undefined;
    default:
      return undefined;
  }
}

/** The footer: the keys of the current screen, short enough for 80 columns. */
export function keyHints(state: State): string {
  const screen = current(state);
  if (state.help) return 'any key: close help';
  switch (screen.name) {
    case 'backups':
      if (screen.list.filtering) return 'type to filter · Enter keep · Esc clear · ↑↓ move';
      return '↑↓/jk move · Enter open · / filter · b back up now · r reload · ? help · q quit';
    case 'backup': {
      const row = findRow(state, screen.folder);
      // "? help" is on the title line too: room for the drill's key in 80 columns.
      if (row && canDrill(row)) return '↑↓ choose · Enter do it · v verify · d drill · c other copy · Esc back · q quit';
      return '↑↓ choose · Enter do it · v verify · c other copy · Esc back · ? help · q quit';
    }
    case 'pick-db':
      if (screen.list.filtering) return 'type to filter · Enter keep · Esc clear · ↑↓ move';
      return '↑↓/jk move · Enter choose · / filter · Esc back · ? help · q quit';
    case 'setup':
      if (screen.editing) return 'type the name · Enter keep · Esc cancel';
      if (isArchiveChoice(state, screen.choice)) return 'Enter plan · n <name>_restored · o original · e a name · t tables · Esc back';
      return 'Enter plan · n <name>_restored · o original name · e type a name · Esc back';
    case 'pick-tables':
      if (screen.list.filtering) return 'type to filter · Enter keep · Esc clear · ↑↓ move';
      return 'Space mark/unmark · Enter done · / filter · Esc back (no change)';
    case 'plan':
      if (!screen.plan) return screen.error ? 'Esc back · q quit' : 'checking... · Esc back · q quit';
      if (!screen.plan.ok) return 'refused: cannot start · ↑↓ scroll · Esc back · q quit';
      return typing(state, screen) ? 'type the name shown, then Enter · Esc back' : 'Enter start the restore · ↑↓ scroll · Esc back · q quit';
    case 'work':
      if (screen.ask) return 'y yes · n no · Ctrl-C again: stop at once';
      if (screen.stopping) return 'stopping: cleaning up...';
      return 'Esc or Ctrl-C stop · q quit (asks first)';
    case 'result':
      return 'Enter or Esc back to the backups · q quit';
  }
}

/**
 * Keys typed faster than they are read arrive as one string ("\r/sh"), which Ink passes on as one
 * input: split at Enter and Backspace so that each keeps its meaning; plain text stays one paste.
 */
export function splitBurst(input: string, key: KeyPress): Array<{ input: string; key: KeyPress }> {
  if ([...input].length < 2 || !/[\r\n\x7f\x08]/.test(input) || key.ctrl || key.meta) return [{ input, key }];
  const keys: Array<{ input: string; key: KeyPress }> = [];
  let text = '';
  const flush = () => {
    if (text) keys.push({ input: text, key: {} });
    text = '';
  };
  for (const ch of input) {
    if (ch === '\r' || ch === '\n') {
      flush();
      keys.push({ input: '', key: { return: true } });
    } else if (ch === '\x7f' || ch === '\x08') {
      flush();
      keys.push({ input: '', key: { backspace: true } });
    } else {
      text += ch;
    }
  }
  flush();
  return keys;
}
