// The session reducer: plain state in, plain state out. Every key and every answer of work goes
// through here; the app only starts and stops work when the state says so.
import type { SourceKind } from '../../core/source.js';
import type { Action } from './actions.js';
import { keyAction, typing } from './keys.js';
import {
  backupActions,
  confirmationText,
  copiesByNearness,
  current,
  drillWhere,
  findRow,
  isArchiveChoice,
  isSingleRow,
  matchingNames,
  tableKey,
  tableLabel,
  targetOf,
  visibleRows,
} from './select.js';
import type { Job, ListState, RestoreChoice, Screen, State } from './types.js';

export interface InitialOptions {
  serverWhere: string;
  /** host:port, what a cluster restore's confirmation asks to type. */
  serverAddress: string;
  sources: Array<{ kind: SourceKind; location: string }>;
  columns: number;
  rows: number;
  now: number;
  /** Where a drill's scratch databases go, for people (UiServices.drillWhere); absent: the target server. */
  drillWhere?: string;
}

const LOG_LINES = 200;

export function initialState(opts: InitialOptions): State {
  return {
    server: { where: opts.serverWhere, address: opts.serverAddress, state: 'loading' },
    ...(opts.drillWhere ? { drillWhere: opts.drillWhere } : {}),
    sources: opts.sources.map((s) => ({ ...s, state: 'loading' })),
    loadId: 1,
    stack: [{ name: 'backups', list: { cursor: 0, filter: '', filtering: false } }],
    help: false,
    columns: opts.columns,
    rows: opts.rows,
    exitCode: 0,
    history: [],
    nextId: 1,
    now: opts.now,
  };
}

/** Replaces the top screen. */
function top(state: State, screen: Screen): State {
  return { ...state, stack: [...state.stack.slice(0, -1), screen] };
}

function push(state: State, screen: Screen): State {
  return { ...state, stack: [...state.stack, screen] };
}

function pop(state: State): State {
  return state.stack.length > 1 ? { ...state, stack: state.stack.slice(0, -1) } : state;
}

function clamp(n: number, count: number): number {
  return Math.max(0, Math.min(n, count - 1));
}

function dropLast(text: string): string {
  return [...text].slice(0, -1).join('');
}

function quote(name: string): string {
  return JSON.stringify(name);
}

type NewJob = Job extends infer J ? (J extends Job ? Omit<J, 'id'> : never) : never;

function startJob(state: State, job: NewJob): State {
  const withId = { ...job, id: state.nextId } as Job;
  return push(
    { ...state, nextId: state.nextId + 1 },
    { name: 'work', job: withId, phases: [], log: [], startedAt: state.now, stopping: false, exitAfter: false },
  );
}

export function restoreTitle(choice: RestoreChoice): string {
  const from = `from ${choice.folder} (${choice.copy})`;
  if (choice.type === 'database') {
    const target = targetOf(choice)!;
    if (choice.single) return `restore of ${choice.folder} (${choice.copy}) as ${quote(target)}`;
    const only = choice.tables ? ` (only ${choice.tables.map(tableLabel).join(', ')})` : '';
    return `restore of database ${quote(choice.database!)}${only}${target !== choice.database ? ` as ${quote(target)}` : ''} ${from}`;
  }
  return `restore of the ${choice.type === 'cluster' ? 'whole cluster' : 'globals (roles, tablespaces)'} ${from}`;
}

function withTarget(state: State, choice: RestoreChoice, target: string | undefined): RestoreChoice {
  const next: RestoreChoice = { ...choice, target: target === choice.database ? undefined : target };
  const name = targetOf(next);
  next.overwrite = name !== undefined && (state.server.databases ?? []).includes(name);
  return next;
}

/** The keys every list screen shares (move, first/last, the filter); undefined for the others. */
function listKey(list: ListState, action: Action, count: number): ListState | undefined {
  switch (action.type) {
    case 'move':
      return { ...list, cursor: clamp(list.cursor + action.by, count) };
    case 'move-to':
      return { ...list, cursor: action.index === 'first' ? 0 : Math.max(0, count - 1) };
    case 'filter':
      return { ...list, filtering: true };
    case 'text':
      return list.filtering ? { ...list, filter: list.filter + action.text, cursor: 0 } : list;
    case 'erase':
      return list.filtering ? { ...list, filter: dropLast(list.filter), cursor: 0 } : list;
    default:
      return undefined;
  }
}

export function reduce(state: State, action: Action): State {
  const screen = current(state);
  switch (action.type) {
    case 'server-loaded': {
      const next: State = { ...state, server: { ...state.server, state: 'ok', version: action.version, superuser: action.superuser, databases: action.databases, error: undefined } };
      // A restore setup opened before the server answered: whether its target exists is known only now.
      return { ...next, stack: next.stack.map((s) => (s.name === 'setup' ? { ...s, choice: withTarget(next, s.choice, s.choice.target) } : s)) };
    }
    case 'server-failed':
      return { ...state, server: { ...state.server, state: 'failed', error: action.error } };
    case 'source-loaded':
      return { ...state, sources: state.sources.map((s) => (s.kind === action.kind ? { ...s, state: 'ok', entries: action.entries, error: undefined } : s)) };
    case 'source-failed':
      return { ...state, sources: state.sources.map((s) => (s.kind === action.kind ? { ...s, state: 'failed', entries: undefined, error: action.error } : s)) };
    case 'reload':
      if (screen.name !== 'backups') return state;
      return {
        ...state,
        loadId: state.loadId + 1,
        server: { ...state.server, state: 'loading' },
        sources: state.sources.map((s) => ({ ...s, state: 'loading', entries: undefined, error: undefined })),
        stack: [{ ...screen, list: { ...screen.list, cursor: 0 } }],
      };
    case 'key': {
      // Several characters at once outside a text field are several keys ("/sh" typed fast).
      const chars = [...action.input];
      if (chars.length > 1 && !typing(state) && Object.values(action.key).every((v) => !v)) {
        return chars.reduce<State>((s, ch) => reduce(s, { type: 'key', input: ch, key: {} }), state);
      }
      const meant = keyAction(state, action.input, action.key);
      return meant ? reduce(state, meant) : state;
    }
    case 'resize':
      return { ...state, columns: action.columns, rows: action.rows };
    case 'tick':
      return { ...state, now: action.now };
    case 'help':
      return { ...state, help: !state.help };
    case 'quit':
      if (screen.name === 'work') return top(state, { ...screen, ask: 'quit' });
      return { ...state, exit: state.exitCode };
    case 'terminate':
      if (screen.name === 'work') return top(state, { ...screen, ask: undefined, stopping: true, exitAfter: true });
      return { ...state, exit: state.exitCode };
    case 'interrupt':
      if (screen.name !== 'work') return { ...state, exit: state.exitCode };
      // A second Ctrl-C at the question (or while stopping) stops at once and leaves once cleaned up.
      if (screen.ask || screen.stopping) return top(state, { ...screen, ask: undefined, stopping: true, exitAfter: true });
      return top(state, { ...screen, ask: 'stop' });
    case 'answer':
      if (screen.name !== 'work' || !screen.ask) return state;
      if (!action.yes) return top(state, { ...screen, ask: undefined });
      return top(state, { ...screen, ask: undefined, stopping: true, exitAfter: screen.ask === 'quit' });
    case 'tables-ready':
    case 'tables-failed':
      return {
        ...state,
        stack: state.stack.map((s) =>
          s.name === 'pick-tables' && s.id === action.id ? (action.type === 'tables-ready' ? { ...s, tables: action.tables } : { ...s, error: action.error }) : s,
        ),
      };
    case 'plan-ready':
    case 'plan-failed':
      return {
        ...state,
        stack: state.stack.map((s) =>
          s.name === 'plan' && s.id === action.id ? (action.type === 'plan-ready' ? { ...s, plan: action.plan } : { ...s, error: action.error }) : s,
        ),
      };
    case 'job-progress':
    case 'job-log': {
      if (screen.name !== 'work' || screen.job.id !== action.id) return state;
      if (action.type === 'job-log') return top(state, { ...screen, log: [...screen.log, action.line].slice(-LOG_LINES) });
      const at = screen.phases.findIndex((p) => p.id === action.progress.id);
      const phases = at < 0 ? [...screen.phases, action.progress] : screen.phases.map((p, i) => (i === at ? action.progress : p));
      return top(state, { ...screen, phases });
    }
    case 'job-done': {
      const at = state.stack.findIndex((s) => s.name === 'work' && s.job.id === action.id);
      if (at < 0) return state;
      const work = state.stack[at] as Extract<Screen, { name: 'work' }>;
      const r = action.result;
      const verdict = r.ok ? 'done' : r.stopped ? 'STOPPED' : 'FAILED';
      const next: State = {
        ...state,
        exitCode: r.exitCode,
        history: [...state.history, `${verdict}: ${work.job.title}${r.error ? `: ${r.error}` : ''}`],
        stack: [...state.stack.slice(0, at), { name: 'result', job: work.job, result: r }],
      };
      return work.exitAfter ? { ...next, exit: r.exitCode } : next;
    }
    default:
      return onKey(state, screen, action);
  }
}

/** The keys of the current screen. */
function onKey(state: State, screen: Screen, action: Action): State {
  switch (screen.name) {
    case 'backups': {
      const rows = visibleRows(state, screen.list);
      const list = screen.list;
      const moved = listKey(list, action, rows.length);
      if (moved) return top(state, { ...screen, list: moved });
      switch (action.type) {
        case 'back':
          return list.filtering || list.filter ? top(state, { ...screen, list: { cursor: 0, filter: '', filtering: false } }) : state;
        case 'enter': {
          if (list.filtering) return top(state, { ...screen, list: { ...list, filtering: false } });
          const row = rows[list.cursor];
          if (!row) return state;
          return push(state, { name: 'backup', folder: row.folder, copy: copiesByNearness(row)[0]!.kind, cursor: 0 });
        }
        case 'backup-now':
          return startJob(state, { kind: 'backup', title: 'backup of the server now' });
        default:
          return state;
      }
    }
    case 'backup': {
      const row = findRow(state, screen.folder);
      if (!row) return action.type === 'back' ? pop(state) : state;
      const actions = backupActions(row);
      switch (action.type) {
        case 'move':
          return top(state, { ...screen, cursor: clamp(screen.cursor + action.by, actions.length) });
        case 'move-to':
          return top(state, { ...screen, cursor: action.index === 'first' ? 0 : Math.max(0, actions.length - 1) });
        case 'back':
          return pop(state);
        case 'next-copy': {
          const copies = copiesByNearness(row);
          const at = copies.findIndex((c) => c.kind === screen.copy);
          return top(state, { ...screen, copy: copies[(at + 1) % copies.length]!.kind });
        }
        case 'verify':
          return startJob(state, { kind: 'verify', title: `verify of ${row.folder} (${screen.copy})`, folder: row.folder, copy: screen.copy });
        case 'drill':
          // No plan, no confirmation: a drill creates its own scratch databases and touches nothing else.
          if (!actions.includes('drill')) return state;
          return startJob(state, { kind: 'drill', title: `drill of ${row.folder} (${screen.copy}) on ${drillWhere(state)}`, folder: row.folder, copy: screen.copy });
        case 'enter': {
          const chosen = actions[screen.cursor];
          // A seed 002 file does not say which database it holds: the setup asks for the name at once.
          if (chosen === 'database' && isSingleRow(row)) {
            return push(state, { name: 'setup', choice: { folder: row.folder, copy: screen.copy, type: 'database', database: '', single: true, overwrite: false }, editing: true, draft: '' });
          }
          if (chosen === 'database') return push(state, { name: 'pick-db', folder: row.folder, copy: screen.copy, list: { cursor: 0, filter: '', filtering: false } });
          if (chosen === 'verify' || chosen === 'drill') return onKey(state, screen, { type: chosen });
          if (chosen === 'cluster' || chosen === 'globals') {
            return planScreen(state, { folder: row.folder, copy: screen.copy, type: chosen, overwrite: false });
          }
          return state;
        }
        default:
          return state;
      }
    }
    case 'pick-db': {
      const row = findRow(state, screen.folder);
      const names = matchingNames(row?.databases ?? [], screen.list.filter);
      const list = screen.list;
      const moved = listKey(list, action, names.length);
      if (moved) return top(state, { ...screen, list: moved });
      switch (action.type) {
        case 'back':
          return list.filtering || list.filter ? top(state, { ...screen, list: { cursor: 0, filter: '', filtering: false } }) : pop(state);
        case 'enter': {
          if (list.filtering) return top(state, { ...screen, list: { ...list, filtering: false } });
          const name = names[list.cursor];
          if (name === undefined) return state;
          const choice = withTarget(state, { folder: screen.folder, copy: screen.copy, type: 'database', database: name, overwrite: false }, undefined);
          return push(state, { name: 'setup', choice, editing: false, draft: '' });
        }
        default:
          return state;
      }
    }
    case 'setup': {
      const { choice } = screen;
      if (screen.editing) {
        switch (action.type) {
          case 'text':
            return top(state, { ...screen, draft: screen.draft + action.text });
          case 'erase':
            return top(state, { ...screen, draft: dropLast(screen.draft) });
          case 'back':
            // A seed 002 file not named yet: nothing to go back to on this screen.
            return choice.single && !choice.database ? pop(state) : top(state, { ...screen, editing: false });
          case 'enter':
            if (!screen.draft) return state;
            if (choice.single && !choice.database) return top(state, { ...screen, editing: false, choice: withTarget(state, { ...choice, database: screen.draft }, undefined) });
            return top(state, { ...screen, editing: false, choice: withTarget(state, choice, screen.draft) });
          default:
            return state;
        }
      }
      switch (action.type) {
        case 'target':
          if (action.how === 'edit') return top(state, { ...screen, editing: true, draft: targetOf(choice) ?? '' });
          return top(state, { ...screen, choice: withTarget(state, choice, action.how === 'restored' ? `${choice.database}_restored` : undefined) });
        case 'back':
          return pop(state);
        case 'enter':
          if (choice.single && !choice.database) return top(state, { ...screen, editing: true, draft: '' });
          return planScreen(state, choice);
        case 'pick-tables':
          if (!isArchiveChoice(state, choice)) return state;
          return push(
            { ...state, nextId: state.nextId + 1 },
            { name: 'pick-tables', id: state.nextId, choice, picked: (choice.tables ?? []).map(tableKey), list: { cursor: 0, filter: '', filtering: false } },
          );
        default:
          return state;
      }
    }
    case 'pick-tables': {
      const shown = pickableTables(screen);
      const list = screen.list;
      const moved = listKey(list, action, shown.length);
      if (moved) return top(state, { ...screen, list: moved });
      switch (action.type) {
        case 'back':
          return list.filtering || list.filter ? top(state, { ...screen, list: { cursor: 0, filter: '', filtering: false } }) : pop(state);
        case 'toggle': {
          const t = shown[list.cursor];
          if (!t) return state;
          const key = tableKey(t);
          const picked = screen.picked.includes(key) ? screen.picked.filter((k) => k !== key) : [...screen.picked, key];
          return top(state, { ...screen, picked, list: { ...list, cursor: clamp(list.cursor + 1, shown.length) } });
        }
        case 'enter': {
          if (list.filtering) return top(state, { ...screen, list: { ...list, filtering: false } });
          if (!screen.tables) return state;
          const tables = screen.tables.filter((t) => screen.picked.includes(tableKey(t))).map(({ schema, name }) => ({ schema, name }));
          const below = state.stack[state.stack.length - 2];
          if (below?.name !== 'setup') return pop(state);
          let choice: RestoreChoice = { ...below.choice, tables: tables.length > 0 ? tables : undefined };
          // Chosen tables go into a new database: away from a name that exists.
          if (tables.length > 0 && choice.overwrite) choice = withTarget(state, choice, `${choice.database}_tables`);
          return { ...state, stack: [...state.stack.slice(0, -2), { ...below, choice }] };
        }
        default:
          return state;
      }
    }
    case 'plan': {
      const needs = screen.plan?.ok ? confirmationText(screen.plan, screen.choice, state.server.address) : undefined;
      switch (action.type) {
        case 'back':
          return pop(state);
        case 'move':
          return top(state, { ...screen, scroll: Math.max(0, screen.scroll + action.by) });
        case 'move-to':
          return top(state, { ...screen, scroll: action.index === 'first' ? 0 : 10_000 });
        case 'text':
          return needs !== undefined ? top(state, { ...screen, typed: screen.typed + action.text }) : state;
        case 'erase':
          return needs !== undefined ? top(state, { ...screen, typed: dropLast(screen.typed) }) : state;
        case 'enter': {
          if (!screen.plan?.ok) return state;
          if (needs !== undefined && screen.typed !== needs) return top(state, { ...screen, wrong: screen.typed, typed: '' });
          return startJob(state, { kind: 'restore', title: restoreTitle(screen.choice), choice: screen.choice });
        }
        default:
          return state;
      }
    }
    case 'work':
      if (action.type === 'back') {
        if (screen.ask) return top(state, { ...screen, ask: undefined });
        return screen.stopping ? state : top(state, { ...screen, ask: 'stop' });
      }
      return state;
    case 'result':
      if (action.type === 'back' || action.type === 'enter') {
        const root = state.stack[0]!;
        const back: State = { ...state, stack: [root] };
        // A backup run adds a folder: list the sources again.
        return screen.job.kind === 'backup' ? reduce(back, { type: 'reload' }) : back;
      }
      return state;
  }
}

/** The tables of a pick-tables screen that its filter matches. */
export function pickableTables(screen: Extract<Screen, { name: 'pick-tables' }>): NonNullable<typeof screen.tables> {
  const filter = screen.list.filter.toLowerCase();
  return (screen.tables ?? []).filter((t) => filter === '' || tableLabel(t).toLowerCase().includes(filter));
}

function planScreen(state: State, choice: RestoreChoice): State {
  return push({ ...state, nextId: state.nextId + 1 }, { name: 'plan', id: state.nextId, choice, typed: '', scroll: 0 });
}
