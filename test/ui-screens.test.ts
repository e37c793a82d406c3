// Every screen of the terminal UI drawn by Ink (ink-testing-library) from plain states, at 80x24:
// loading, empty, an unreachable source, long and unicode names, a long list, the help overlay, a
// refused plan, the typed confirmation, progress and results; NO_COLOR draws no colour.
import { afterEach, describe, expect, it } from 'vitest';
import { createElement as h } from 'react';
import { cleanup, render } from 'ink-testing-library';
import { SessionView } from '../src/ui/screens/session-view.js';
import { ColorContext } from '../src/ui/screens/tone.js';
import { keyAction } from '../src/ui/state/keys.js';
import { current } from '../src/ui/state/select.js';
import type { State } from '../src/ui/state/types.js';
import { entry, folderAt, loaded, plan, run, start } from './helpers/ui-fixtures.js';

afterEach(() => cleanup());

function draw(state: State, opts: { color?: boolean } = {}): string {
  const { lastFrame } = render(h(ColorContext.Provider, { value: opts.color ?? false }, h(SessionView, { state, logPath: '/restore/pg-backups-session.log' })));
  return lastFrame() ?? '';
}

function lines(frame: string): string[] {
  return frame.split('\n');
}

/** Every line fits in the state's width, and the frame in its height. */
function expectFits(frame: string, state: State): void {
  for (const line of lines(frame)) expect([...line.replace(/\x1b\[[0-9;]*m/g, '')].length, line).toBeLessThanOrEqual(state.columns);
  expect(lines(frame).length).toBeLessThanOrEqual(state.rows);
}

const press = (state: State, ...keys: Array<string | Record<string, boolean>>) =>
  keys.reduce<State>((s, k) => {
    const a = typeof k === 'string' ? keyAction(s, k, {}) : keyAction(s, '', k);
    return a ? run(s, a) : s;
  }, state);
const ENTER = { return: true };

describe('the backups screen', () => {
  it('loading: a spinner per source and for the server, the keys in the footer', () => {
    const s = start();
    const f = draw(s);
    expect(f).toMatch(/pg-backups › backups/);
    expect(f).toMatch(/Target server postgres@db\.internal:5432 +[|/\\-] connecting/);
    expect(f).toMatch(/local +\/backups +[|/\\-] listing/);
    expect(f).toMatch(/s3 +s3:\/\/bucket\/prod +[|/\\-] listing/);
    expect(f).toMatch(/listing the sources/);
    expect(lines(f).at(-1)).toMatch(/Enter open · \/ filter · b back up now · r reload · \? help · q quit/);
    expectFits(f, s);
  });

  it('empty: says so and how to make one', () => {
    const s = run(start({ sources: [{ kind: 'local', location: '/backups' }] }), { type: 'source-loaded', kind: 'local', entries: [] });
    expect(draw(s)).toMatch(/no backups on the sources that answered; b backs up now/);
  });

  it('an unreachable source shows its reason; the others list their backups', () => {
    const s = loaded();
    const f = draw(s);
    expect(f).toMatch(/Target server postgres@db\.internal:5432 +PostgreSQL 15\.18 +reachable/);
    expect(f).toMatch(/local +\/backups +ok, 2 backups, newest 2h ago/);
    expect(f).toMatch(/s3 +s3:\/\/bucket\/prod +ok, 1 backup, newest 2h ago/);
    expect(f).toMatch(/remote +backup@vault:\/srv\/pg +UNREACHABLE: ssh: connect to host vault/);
    expect(f).toMatch(new RegExp(`> ${folderAt(2)}  2h ago      finished    15\\.18   2    \\d+ B +local,s3`));
    expect(f).toMatch(new RegExp(`  ${folderAt(30)}  30h ago     finished    15\\.18   2    \\d+ B +local\\s`));
    expectFits(f, s);
  });

  it('an unreachable server says NOT REACHABLE with its reason', () => {
    const s = run(start(), { type: 'server-failed', error: 'cannot reach PostgreSQL at postgres@db.internal:5432: connection refused' });
    expect(draw(s)).toMatch(/NOT REACHABLE: cannot reach PostgreSQL/);
  });

  it('a long list scrolls with the cursor and says where it is; 80x24 holds', () => {
    const entries = Array.from({ length: 60 }, (_, i) => entry(folderAt(i + 1)));
    let s = run(start({ sources: [{ kind: 'local', location: '/backups' }] }), { type: 'source-loaded', kind: 'local', entries });
    let f = draw(s);
    expect(f).toContain(`> ${folderAt(1)}`);
    expect(f).toMatch(/1 of 60/);
    expectFits(f, s);
    s = press(s, ...Array(40).fill('j'));
    f = draw(s);
    expect(f).toContain(`> ${folderAt(41)}`);
    expect(f).not.toContain(folderAt(1) + ' ');
    expect(f).toMatch(/41 of 60/);
    expectFits(f, s);
    // a resize keeps the cursor in view
    s = run(s, { type: 'resize', columns: 100, rows: 12 });
    f = draw(s);
    expect(f).toContain(`> ${folderAt(41)}`);
    expectFits(f, s);
  });

  it('the filter line shows what is typed and how many match', () => {
    const s = press(loaded(), '/', ...folderAt(30).slice(0, 8).split(''), ...'_0'.split(''));
    const f = draw(s);
    expect(f).toMatch(/Filter: \d{8}_0_ +\(\d of 2\)/);
    expect(lines(f).at(-1)).toMatch(/type to filter/);
  });

  it('the help overlay lists the keys and the log file', () => {
    const s = press(loaded(), '?');
    const f = draw(s);
    expect(f).toMatch(/› help/);
    expect(f).toMatch(/Esc back · q quit/);
    expect(f).toMatch(/Ctrl-C again: at once/);
    expect(f).toMatch(/This session's log: \/restore\/pg-backups-session\.log/);
    expect(lines(f).at(-1)).toMatch(/any key: close help/);
    expectFits(f, s);
  });
});

describe('a backup, its databases, the setup', () => {
  const odd = ['données', '売上データ', 'a'.repeat(63), 'line\nbreak'];
  function withNames(): State {
    return run(
      start({ sources: [{ kind: 'local', location: '/backups' }] }),
      { type: 'server-loaded', version: '15.18', superuser: true, databases: ['postgres', 'données'] },
      { type: 'source-loaded', kind: 'local', entries: [entry(folderAt(3), odd)] },
    );
  }

  it('shows manifest, files and databases; long and unicode names stay on their lines', () => {
    const s = press(withNames(), ENTER);
    const f = draw(s);
    expect(f).toMatch(new RegExp(`Backup ${folderAt(3)} · finished · made 3h ago`));
    expect(f).toMatch(/PostgreSQL 15\.18 · pg_dump 15\.18 · pg-backups 0\.1\.0/);
    expect(f).toMatch(/Files \(6, /);
    expect(f).toContain('postgres_db_donn%C3%A9es.sql.gz');
    expect(f).toMatch(/Databases \(4\): données, 売上データ, a+…/);
    expect(f).toMatch(/> Restore one database\.\.\./);
    expect(f).toMatch(/Verify this copy now/);
    expectFits(f, s);
  });

  it('the database picker filters, marks what exists on the server, escapes a newline', () => {
    let s = press(withNames(), ENTER, ENTER);
    let f = draw(s);
    expect(f).toMatch(/> données +\(exists on the server\)/);
    expect(f).toContain('売上データ');
    expect(f).toContain('line\\x0abreak');
    expectFits(f, s);
    s = press(s, '/', '売');
    f = draw(s);
    expect(f).toMatch(/Filter: 売_ +\(1 of 4\)/);
    expect(f).not.toContain('données');
  });

  it('setup says plainly whether the target is replaced or created', () => {
    let s = press(withNames(), ENTER, ENTER, ENTER);
    let f = draw(s);
    expect(f).toMatch(/Target name: "données" \(the original name\)/);
    expect(f).toMatch(/"données" EXISTS on the server: it will be REPLACED/);
    s = press(s, 'n');
    f = draw(s);
    expect(f).toMatch(/Target name: "données_restored"/);
    expect(f).toMatch(/"données_restored" does not exist on the server: it will be CREATED/);
    expect(lines(f).at(-1)).toMatch(/n <name>_restored · o original name · e type a name · Esc back/);
    expectFits(f, s);
  });
});

describe('the plan screen', () => {
  function planned(over: Parameters<typeof plan>[0], serverDatabases = ['postgres', 'app']): State {
    let s = loaded({ serverDatabases });
    s = press(s, ENTER, ENTER, 'j', ENTER, ENTER);
    return run(s, { type: 'plan-ready', id: (current(s) as any).id, plan: plan(over) });
  }

  it('while checking: a spinner and "nothing is changed"', () => {
    const s = press(loaded(), ENTER, ENTER, 'j', ENTER, ENTER);
    expect(draw(s)).toMatch(/checking backup, server, psql, free space\.\.\. \(nothing changes\)/);
  });

  it('a new name: what it creates, and Enter to start', () => {
    const f = draw(planned({}));
    expect(f).toMatch(/backup +\d{8}_\d{6} on local:\/backups/);
    expect(f).toMatch(/creates +database\(s\) "shop"/);
    expect(f).toMatch(/Nothing that exists is replaced\. Enter starts the restore/);
  });

  it('a refused plan shows every refusal and cannot start', () => {
    const s = planned({ ok: false, refusals: [{ message: 'no psql of PostgreSQL 15 or newer was found', exitCode: 1 }, { message: 'RESTORE_DIR has 0 bytes free', exitCode: 1 }] });
    const f = draw(s);
    expect(f).toMatch(/REFUSED +no psql of PostgreSQL 15/);
    expect(f).toMatch(/REFUSED +RESTORE_DIR has 0 bytes free/);
    expect(f).toMatch(/REFUSED: this restore cannot start \(2 reasons above\)/);
    expect(lines(f).at(-1)).toMatch(/refused: cannot start/);
    expect(current(press(s, ENTER)).name).toBe('plan');
  });

  it('a replace asks for the name; a wrong entry says so; the right one starts', () => {
    let s = planned({ replaces: ['shop'], creates: [], sessions: [{ database: 'shop', count: 3 }], database: { original: 'shop', target: 'shop', exists: true } }, ['postgres', 'shop']);
    let f = draw(s);
    expect(f).toMatch(/replaces +database "shop" \(3 session\(s\) will be ended\)/);
    expect(f).toMatch(/This REPLACES database "shop"\. Type its name to go ahead: shop/);
    s = press(s, ...'shp'.split(''));
    expect(draw(s)).toMatch(/> shp_/);
    s = press(s, ENTER);
    f = draw(s);
    expect(f).toMatch(/"shp" is not "shop": nothing was done; type it exactly\./);
    expect(current(s).name).toBe('plan');
    s = press(s, ...'shop'.split(''), ENTER);
    expect(current(s).name).toBe('work');
    expect(draw(s)).toMatch(/restore of database "shop" from \d{8}_\d{6} \(local\) · elapsed 0s/);
  });
});

describe('progress and results', () => {
  function working(): State {
    let s = press(loaded(), ENTER, ENTER, 'j', ENTER, 'n', ENTER);
    s = run(s, { type: 'plan-ready', id: (current(s) as any).id, plan: plan() });
    return press(s, ENTER);
  }

  it('one bar per phase with bytes, percent, rate, time left and object; the last log lines; stop keys', () => {
    let s = working();
    const id = (current(s) as any).job.id;
    s = run(
      s,
      { type: 'job-progress', id, progress: { id: 'listing:local', kind: 'listing', label: 'listing local:/backups', state: 'done', bytes: 0, elapsedMs: 120 } },
      {
        type: 'job-progress',
        id,
        progress: { id: 'restore-database:shop', kind: 'restore-database', label: 'restore of database "shop"', state: 'running', bytes: 50 * 1048576, totalBytes: 200 * 1048576, rate: 10 * 1048576, etaMs: 15000, elapsedMs: 5000, object: 'table public.orders' },
      },
      { type: 'job-log', id, line: { level: 'info', text: 'restoring database from 2025 (postgres_db_shop.sql.gz)' } },
      { type: 'job-log', id, line: { level: 'warn', text: 'a warning' } },
    );
    const f = draw(s);
    expect(f).toMatch(/\[done\] +listing local:\/backups/);
    expect(f).toMatch(/restore of database "shop" · table public\.orders/);
    expect(f).toMatch(/\[########-+\]  25%  50 MB of 200 MB  10 MB\/s  15s left/);
    expect(f).toMatch(/warn: a warning/);
    expect(lines(f).at(-1)).toMatch(/Esc or Ctrl-C stop · q quit \(asks first\)/);
    expectFits(f, s);
    const asked = press(s, { escape: true });
    expect(draw(asked)).toMatch(/Stop the restore\? y: stop now · n: go on[^]*\(the staging database is dropped; the target stays as it was\)/);
    expect(draw(press(asked, 'y'))).toMatch(/Stopping: ending psql/);
  });

  it('success: what, where, sizes, time and the next step; failure: the one-line error and the log', () => {
    const s = working();
    const id = (current(s) as any).job.id;
    const ok = run(s, {
      type: 'job-done',
      id,
      result: { ok: true, stopped: false, exitCode: 0, elapsedMs: 3000, lines: ['restored database "shop" as "shop_restored" on postgres@db.internal:5432', 'files: postgres_db_shop.sql.gz (2.0 KB)', 'next: compare it', 'took 3s'] },
    });
    let f = draw(ok);
    expect(f).toMatch(/Done: restore of database "shop" as "shop_restored"/);
    expect(f).toMatch(/took 3s/);
    expect(f).toMatch(/This session's log: /);
    const bad = run(s, {
      type: 'job-done',
      id,
      result: { ok: false, stopped: false, exitCode: 3, elapsedMs: 3000, error: 'postgres_db_shop.sql.gz is damaged', lines: ['the full log: /restore/x.log'] },
    });
    f = draw(bad);
    expect(f).toMatch(/FAILED: restore of database "shop"/);
    expect(f).toMatch(/postgres_db_shop\.sql\.gz is damaged/);
    expect(f).toMatch(/exit code if you quit now: 3/);
  });

  it('NO_COLOR: no colour codes; with colour, states are still in words', () => {
    const s = loaded();
    expect(draw(s, { color: false })).not.toMatch(/\x1b\[3[0-9]m/);
    const coloured = draw(s, { color: true });
    expect(coloured).toMatch(/UNREACHABLE/);
  });
});
