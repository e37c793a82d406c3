// The terminal UI's session state without a terminal: keys to actions, the reducer's screens, the
// typed confirmation, the stop question, and what the session ends with.
import { describe, expect, it } from 'vitest';
import { keyHints, splitBurst } from '../src/ui/state/keys.js';
import { backupActions, backupRows, confirmationText, current, listWindow } from '../src/ui/state/select.js';
import type { State } from '../src/ui/state/types.js';
import { entry, folderAt, key, loaded, plan, press, run, start } from './helpers/ui-fixtures.js';

const ENTER = { return: true };
const ESC = { escape: true };
const withCtrlC = (s: State) => key(s, 'c', { ctrl: true });

/** From the list to the plan screen of database "shop" of the newest backup. */
function toPlan(state: State, ...setupKeys: string[]): State {
  let s = press(state, ENTER, ENTER); // the backup, "Restore one database..."
  s = press(s, 'j', ENTER); // shop (app is first)
  s = press(s, ...setupKeys);
  return press(s, ENTER);
}

describe('the backups list', () => {
  it('merges the sources newest first, with the copies of each backup; a failed source stays failed', () => {
    const s = loaded();
    const rows = backupRows(s);
    expect(rows.map((r) => r.folder)).toEqual([folderAt(2), folderAt(30)]);
    expect(rows[0]!.copies.map((c) => c.kind).sort()).toEqual(['local', 's3']);
    expect(s.sources.find((x) => x.kind === 'remote')).toMatchObject({ state: 'failed', error: expect.stringContaining('Connection refused') });
  });

  it('moves with arrows and j/k, clamped at both ends', () => {
    const s = loaded();
    expect((current(press(s, 'j', 'j', 'j')) as any).list.cursor).toBe(1);
    expect((current(press(s, 'j', { upArrow: true }, 'k')) as any).list.cursor).toBe(0);
    expect((current(press(s, 'G')) as any).list.cursor).toBe(1);
  });

  it('/ filters by folder, database, status or source; Esc clears it; typed letters do not act as keys', () => {
    let s = loaded();
    const older = folderAt(30);
    s = press(s, '/', ...older.slice(-6).split(''));
    expect(current(s)).toMatchObject({ name: 'backups', list: { filter: older.slice(-6), filtering: true } });
    expect(keyHints(s)).toMatch(/type to filter/);
    s = press(s, ENTER);
    expect(current(s)).toMatchObject({ list: { filtering: false, filter: older.slice(-6) } });
    s = press(s, ENTER);
    expect(current(s)).toMatchObject({ name: 'backup', folder: older });
    s = press(s, ESC, ESC);
    expect(current(s)).toMatchObject({ name: 'backups', list: { filter: '' } });
    // q while filtering is a letter, not quit
    s = press(s, '/', 'q');
    expect(s.exit).toBeUndefined();
    expect(current(s)).toMatchObject({ list: { filter: 'q' } });
  });

  it('keeps the cursor in view in a long list', () => {
    expect(listWindow(5, 3, 10)).toEqual({ start: 0, end: 5 });
    expect(listWindow(100, 0, 10)).toEqual({ start: 0, end: 10 });
    expect(listWindow(100, 50, 10)).toEqual({ start: 45, end: 55 });
    expect(listWindow(100, 99, 10)).toEqual({ start: 90, end: 100 });
  });

  it('reload lists every source again; q quits with the session exit code', () => {
    const s = press(loaded(), 'r');
    expect(s.loadId).toBe(2);
    expect(s.sources.every((x) => x.state === 'loading')).toBe(true);
    expect(press(loaded(), 'q').exit).toBe(0);
  });

  it('? opens the help overlay and any key closes it', () => {
    const s = press(loaded(), '?');
    expect(s.help).toBe(true);
    expect(press(s, 'j').help).toBe(false);
    expect(current(press(s, 'j'))).toMatchObject({ list: { cursor: 0 } });
  });
});

describe('a backup and the restore setup', () => {
  it('opens on the nearest copy; c switches copies', () => {
    let s = press(loaded(), ENTER);
    expect(current(s)).toMatchObject({ name: 'backup', copy: 'local' });
    s = press(s, 'c');
    expect(current(s)).toMatchObject({ copy: 's3' });
    s = press(s, 'c');
    expect(current(s)).toMatchObject({ copy: 'local' });
  });

  it('a database that exists is replaced by default, n restores under <name>_restored, e takes a typed name', () => {
    let s = press(loaded(), ENTER, ENTER, ENTER); // app, which the server has
    expect(current(s)).toMatchObject({ name: 'setup', choice: { database: 'app', overwrite: true } });
    s = press(s, 'n');
    expect(current(s)).toMatchObject({ choice: { target: 'app_restored', overwrite: false } });
    s = press(s, 'e', { backspace: true }, ...'_2'.split(''), ENTER);
    expect(current(s)).toMatchObject({ choice: { target: 'app_restore_2', overwrite: false } });
    s = press(s, 'o');
    expect(current(s)).toMatchObject({ choice: { target: undefined, overwrite: true } });
  });

  it('a setup opened before the server answered learns then whether its target exists', () => {
    const a = folderAt(2);
    let s = run(start(), { type: 'source-loaded', kind: 'local', entries: [entry(a)] });
    s = press(s, ENTER, ENTER, ENTER); // app, not known yet to exist
    expect(current(s)).toMatchObject({ name: 'setup', choice: { database: 'app', overwrite: false } });
    s = run(s, { type: 'server-loaded', version: '15.18', superuser: true, databases: ['postgres', 'app'] });
    expect(current(s)).toMatchObject({ name: 'setup', choice: { database: 'app', target: undefined, overwrite: true } });
    s = press(s, 'n');
    expect(current(s)).toMatchObject({ choice: { target: 'app_restored', overwrite: false } });
  });

  it('verify from a backup starts a verify job of the chosen copy', () => {
    const s = press(loaded(), ENTER, 'c', 'v');
    expect(current(s)).toMatchObject({ name: 'work', job: { kind: 'verify', copy: 's3' } });
  });
});

describe('the plan and its confirmation', () => {
  it('a restore under a new name starts with Enter', () => {
    let s = toPlan(loaded(), 'n');
    const p = current(s) as any;
    expect(p).toMatchObject({ name: 'plan', choice: { database: 'shop', target: 'shop_restored' } });
    s = run(s, { type: 'plan-ready', id: p.id, plan: plan({ database: { original: 'shop', target: 'shop_restored', exists: false } }) });
    s = press(s, ENTER);
    expect(current(s)).toMatchObject({ name: 'work', job: { kind: 'restore', choice: { target: 'shop_restored' } } });
  });

  it('a replace needs the name typed exactly: a wrong entry says so and waits, the right one starts', () => {
    let s = toPlan(loaded({ serverDatabases: ['postgres', 'shop'] }));
    const p = current(s) as any;
    expect(p.choice).toMatchObject({ database: 'shop', overwrite: true });
    s = run(s, { type: 'plan-ready', id: p.id, plan: plan({ replaces: ['shop'], creates: [], database: { original: 'shop', target: 'shop', exists: true } }) });
    expect(keyHints(s)).toMatch(/type the name/);
    s = press(s, ENTER);
    expect(current(s)).toMatchObject({ name: 'plan', wrong: '' });
    s = press(s, ...'shp'.split(''), ENTER);
    expect(current(s)).toMatchObject({ name: 'plan', wrong: 'shp', typed: '' });
    s = press(s, ...'shop'.split(''), ENTER);
    expect(current(s)).toMatchObject({ name: 'work', job: { choice: { overwrite: true } } });
  });

  it('a cluster restore asks for the server host:port; a refused plan cannot start', () => {
    let s = press(loaded(), ENTER, 'j', ENTER);
    const p = current(s) as any;
    expect(p.choice).toMatchObject({ type: 'cluster' });
    const cluster = plan({ type: 'cluster', database: undefined, creates: ['app', 'shop'] });
    expect(confirmationText(cluster, p.choice, 'db.internal:5432')).toBe('db.internal:5432');
    const refused = run(s, { type: 'plan-ready', id: p.id, plan: { ...cluster, ok: false, refusals: [{ message: 'the server is not fresh', exitCode: 2 }] } });
    expect(current(press(refused, ENTER))).toMatchObject({ name: 'plan' });
    expect(keyHints(refused)).toMatch(/refused/);
    s = run(s, { type: 'plan-ready', id: p.id, plan: cluster });
    s = press(s, ...'db.internal:5432'.split(''), ENTER);
    expect(current(s)).toMatchObject({ name: 'work', job: { kind: 'restore', choice: { type: 'cluster' } } });
  });

  it('a plan that arrives after its screen was left changes nothing', () => {
    let s = toPlan(loaded(), 'n');
    const id = (current(s) as any).id;
    s = press(s, ESC);
    const after = run(s, { type: 'plan-ready', id, plan: plan() });
    expect(current(after)).toMatchObject({ name: 'setup' });
  });
});

describe('work, stop and result', () => {
  function working(): State {
    let s = toPlan(loaded(), 'n');
    s = run(s, { type: 'plan-ready', id: (current(s) as any).id, plan: plan() });
    return press(s, ENTER);
  }

  it('progress updates one bar per phase, log lines are kept', () => {
    let s = working();
    const id = (current(s) as any).job.id;
    const phase = { id: 'download:x', kind: 'download' as const, label: 'download', state: 'running' as const, bytes: 10, totalBytes: 100, elapsedMs: 1000 };
    s = run(s, { type: 'job-progress', id, progress: phase }, { type: 'job-progress', id, progress: { ...phase, bytes: 50 } });
    s = run(s, { type: 'job-log', id, line: { level: 'info', text: 'restoring' } });
    expect(current(s)).toMatchObject({ phases: [{ bytes: 50 }], log: [{ text: 'restoring' }] });
  });

  it('Esc or Ctrl-C asks "stop?"; n goes on; y stops; the result is STOPPED with exit code 1', () => {
    let s = working();
    s = press(s, ESC);
    expect(current(s)).toMatchObject({ ask: 'stop', stopping: false });
    s = press(s, 'n');
    expect(current(s)).toMatchObject({ ask: undefined, stopping: false });
    s = withCtrlC(s);
    expect(current(s)).toMatchObject({ ask: 'stop' });
    s = press(s, 'y');
    expect(current(s)).toMatchObject({ stopping: true, exitAfter: false });
    const id = (current(s) as any).job.id;
    s = run(s, { type: 'job-done', id, result: { ok: false, stopped: true, lines: [], error: 'stopped', exitCode: 1, elapsedMs: 5 } });
    expect(current(s)).toMatchObject({ name: 'result' });
    expect(s.exit).toBeUndefined();
    expect(s.history[0]).toMatch(/^STOPPED: restore of database "shop" as "shop_restored"/);
    expect(press(s, 'q').exit).toBe(1);
  });

  it('a second Ctrl-C at the question stops at once and leaves once the work has cleaned up', () => {
    let s = withCtrlC(withCtrlC(working()));
    expect(current(s)).toMatchObject({ stopping: true, exitAfter: true });
    expect(s.exit).toBeUndefined(); // not before the cleanup
    s = run(s, { type: 'job-done', id: (current(s) as any).job.id, result: { ok: false, stopped: true, lines: [], exitCode: 1, elapsedMs: 5 } });
    expect(s.exit).toBe(1);
  });

  it('q while work runs asks; a signal from outside stops and leaves', () => {
    const s = press(working(), 'q');
    expect(current(s)).toMatchObject({ ask: 'quit' });
    expect(s.exit).toBeUndefined();
    expect(current(press(s, 'y'))).toMatchObject({ stopping: true, exitAfter: true });
    expect(current(run(working(), { type: 'terminate' }))).toMatchObject({ stopping: true, exitAfter: true });
  });

  it('back up now from the list; its result goes back to a reloaded list', () => {
    let s = press(loaded(), 'b');
    expect(current(s)).toMatchObject({ name: 'work', job: { kind: 'backup' } });
    s = run(s, { type: 'job-done', id: (current(s) as any).job.id, result: { ok: true, stopped: false, lines: ['ok'], exitCode: 0, elapsedMs: 5 } });
    s = press(s, ENTER);
    expect(current(s)).toMatchObject({ name: 'backups' });
    expect(s.loadId).toBe(2);
  });

  it('Ctrl-C outside of work leaves at once', () => {
    expect(withCtrlC(loaded()).exit).toBe(0);
    expect(withCtrlC(start()).exit).toBe(0);
  });
});

describe('keys typed faster than the screen redraws', () => {
  it('each key is read against the state the previous one left', () => {
    // Enter opens the backup; the next keys belong to that screen, not to the list.
    let s = loaded();
    for (const [input, k] of [['', { return: true }], ['c', {}], ['', { return: true }], ['/', {}], ['s', {}], ['h', {}]] as const) {
      s = run(s, { type: 'key', input, key: k });
    }
    expect(current(s)).toMatchObject({ name: 'pick-db', copy: 's3', list: { filter: 'sh', filtering: true } });
  });

  it('a burst read as one input ("\\r/sh\\r") is split at Enter and Backspace; plain text stays one paste', () => {
    expect(splitBurst('\r/sh\x7f\r', {})).toEqual([
      { input: '', key: { return: true } },
      { input: '/sh', key: {} },
      { input: '', key: { backspace: true } },
      { input: '', key: { return: true } },
    ]);
    expect(splitBurst('shop_restored', {})).toEqual([{ input: 'shop_restored', key: {} }]);
    let s = press(loaded(), ENTER);
    for (const k of splitBurst('\r/sh\r', {})) s = run(s, { type: 'key', input: k.input, key: k.key });
    // Enter opened the picker; "/sh" outside a text field is three keys: the filter, then its text.
    expect(current(s)).toMatchObject({ name: 'pick-db', list: { filter: 'sh', filtering: false } });
  });
});

describe('entries', () => {
  it('a legacy entry has no manifest and still lists its databases', () => {
    const e = entry(folderAt(1), ['old'], 'legacy');
    expect(e.manifest).toBeUndefined();
    const s = run(start(), { type: 'source-loaded', kind: 'local', entries: [e] });
    expect(backupRows(s)[0]).toMatchObject({ status: 'legacy', databases: ['old'] });
  });
});

describe("a seed 002 file (one database, its name not in the file)", () => {
  const FILE = 'backup_20240207_143022.sql.gz.enc';
  const single = () =>
    run(
      start(),
      { type: 'server-loaded', version: '15.18', superuser: true, databases: ['postgres', 'app'] },
      { type: 'source-loaded', kind: 'local', entries: [{ folder: FILE, time: new Date('2024-02-07T14:30:22Z'), status: 'legacy', files: [{ name: FILE, bytes: 900 }], single: { file: FILE, encrypted: 'openssl' } }] },
    );

  it('offers a database restore and verify only; the setup asks the name first, then plans under it', () => {
    let s = press(single(), ENTER);
    expect(current(s)).toMatchObject({ name: 'backup', folder: FILE });
    expect(backupActions(backupRows(s)[0]!)).toEqual(['database', 'verify']);
    s = press(s, ENTER);
    expect(current(s)).toMatchObject({ name: 'setup', editing: true, draft: '', choice: { folder: FILE, type: 'database', database: '', single: true } });
    expect(press(s, ENTER)).toEqual(s); // no name yet: Enter does nothing
    s = press(s, 'n', 'e', 'w', '_', 'a', 'p', 'p', ENTER);
    expect(current(s)).toMatchObject({ name: 'setup', editing: false, choice: { database: 'new_app', single: true, overwrite: false } });
    expect((current(s) as any).choice.target).toBeUndefined();
    s = press(s, ENTER);
    expect(current(s)).toMatchObject({ name: 'plan', choice: { folder: FILE, type: 'database', database: 'new_app', single: true } });
  });

  it('a name that exists is to be replaced (confirmed on the plan); Esc before any name goes back to the backup', () => {
    const s = press(single(), ENTER, ENTER);
    expect(current(press(s, ESC))).toMatchObject({ name: 'backup', folder: FILE });
    const named = press(s, 'a', 'p', 'p', ENTER);
    expect(current(named)).toMatchObject({ name: 'setup', choice: { database: 'app', overwrite: true } });
    expect(confirmationText(plan({ replaces: ['app'] }), (current(named) as any).choice, 'db.internal:5432')).toBe('app');
  });
});
