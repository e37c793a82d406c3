// A restore drill from the terminal UI: `d` (or the action) on a finished backup starts a drill job
// with no plan to confirm; the stop question; the result table (restore time, size, tables checked,
// differences, the verdict with the exit code `pg-backups drill` gives), drawn at 80x24; and end to
// end in a real pseudo-terminal against a real PostgreSQL 15: a backup made with the CLI, drilled
// from the screen, every database passed, `q` exits 0, and no scratch database is left behind; a
// drill stopped in the middle of a restore (Esc, y) leaves none either.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createElement as h } from 'react';
import { readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { cleanup, render } from 'ink-testing-library';
import type { DrillDatabaseResult, DrillReport } from '../src/core/drill/drill-service.js';
import { UsageError } from '../src/core/errors.js';
import { readOneServerScope } from '../src/core/settings/servers.js';
import { drillVerdict } from '../src/ui/drill-job.js';
import { createServices } from '../src/ui/services.js';
import { SessionView } from '../src/ui/screens/session-view.js';
import { ColorContext } from '../src/ui/screens/tone.js';
import { keyHints } from '../src/ui/state/keys.js';
import { backupActions, backupRows, current } from '../src/ui/state/select.js';
import type { JobResult, State } from '../src/ui/state/types.js';
import { baseEnv, runCli } from './helpers/cli.js';
import { clientBinDir } from './helpers/clients.js';
import { startPgServer, type PgServer } from './helpers/pg-server.js';
import { endSession, spawnCliInPty, type PtySession } from './helpers/pty.js';
import { makeTempDir } from './helpers/tmp.js';
import { entry, folderAt, loaded, press, run, start } from './helpers/ui-fixtures.js';

const ENTER = { return: true };
const ESC = { escape: true };

afterEach(() => cleanup());

function draw(state: State): string {
  const { lastFrame } = render(h(ColorContext.Provider, { value: false }, h(SessionView, { state, logPath: '/restore/pg-backups-session.log' })));
  return lastFrame() ?? '';
}

/** Every line fits in the state's width, and the frame in its height. */
function expectFits(frame: string, state: State): void {
  const lines = frame.split('\n');
  for (const line of lines) expect([...line].length, line).toBeLessThanOrEqual(state.columns);
  expect(lines.length).toBeLessThanOrEqual(state.rows);
}

/** The newest backup's screen, then `d`: the drill's work screen. */
function drilling(state: State = loaded()): State {
  return press(state, ENTER, 'd');
}

function db(database: string, over: Partial<DrillDatabaseResult> = {}): DrillDatabaseResult {
  return {
    database,
    scratch: 'pgb_drill_0123456789abcdef',
    outcome: 'passed',
    restoreSeconds: 1.25,
    bytes: 20480,
    counts: 'checked',
    tablesChecked: 14,
    differences: [],
    ...over,
  };
}

function report(databases: DrillDatabaseResult[], exitCode: 0 | 1 | 3 = 0): DrillReport {
  return {
    ok: exitCode === 0,
    exitCode,
    folder: folderAt(2),
    source: 'local:/backups',
    target: 'postgres@db.internal:5432',
    targetVersion: '15.18',
    startedAt: '2025-10-05T14:00:00.000Z',
    finishedAt: '2025-10-05T14:00:09.000Z',
    leftoversDropped: [],
    databases,
  };
}

/** A drill's JobResult as the job gives it (src/ui/drill-job.ts): the verdict, where, the time. */
function result(r: DrillReport): JobResult {
  const where = [`backup ${r.folder} on ${r.source}`, `scratch databases on ${r.target} (PostgreSQL ${r.targetVersion}), all dropped`];
  if (r.ok) return { ok: true, stopped: false, exitCode: 0, elapsedMs: 9000, lines: [...where, 'took 9s'], drill: r };
  return { ok: false, stopped: false, exitCode: r.exitCode, elapsedMs: 9000, error: drillVerdict(r), lines: [...where, 'took 9s', 'the full log: /restore/x.log'], drill: r };
}

function finished(r: DrillReport): State {
  const s = drilling();
  return run(s, { type: 'job-done', id: (current(s) as any).job.id, result: result(r) });
}

describe('a drill from a backup screen (state and keys)', () => {
  it('d starts a drill job of the copy shown, with no plan to confirm; the footer and the actions name it', () => {
    const backup = press(loaded(), ENTER);
    expect(backupActions(backupRows(backup)[0]!)).toEqual(['database', 'cluster', 'globals', 'verify', 'drill']);
    expect(keyHints(backup)).toMatch(/d drill/);
    expect([...keyHints(backup)].length).toBeLessThanOrEqual(80);
    const s = press(backup, 'd');
    expect(current(s)).toMatchObject({ name: 'work', job: { kind: 'drill', folder: folderAt(2), copy: 'local', title: `drill of ${folderAt(2)} (local) on postgres@db.internal:5432` } });
    // The other copy: c, then d drills that one.
    expect(current(press(backup, 'c', 'd'))).toMatchObject({ name: 'work', job: { kind: 'drill', copy: 's3' } });
  });

  it('the action at the end of the list starts the same drill; DRILL_TARGET names the server in its title', () => {
    const s = press(loaded(), ENTER, 'G', ENTER);
    expect(current(s)).toMatchObject({ name: 'work', job: { kind: 'drill', folder: folderAt(2) } });
    const elsewhere: State = { ...loaded(), drillWhere: 'drill@scratch:5433 (DRILL_TARGET)' };
    expect((current(drilling(elsewhere)) as any).job.title).toMatch(/ on drill@scratch:5433 \(DRILL_TARGET\)$/);
  });

  it('no drill for a backup that has no manifest to check against (legacy, incomplete): d does nothing', () => {
    for (const status of ['legacy', 'incomplete'] as const) {
      const s = run(start({ sources: [{ kind: 'local', location: '/backups' }] }), { type: 'source-loaded', kind: 'local', entries: [entry(folderAt(5), ['app'], status)] });
      const backup = press(s, ENTER);
      expect(backupActions(backupRows(backup)[0]!)).not.toContain('drill');
      expect(keyHints(backup)).not.toMatch(/drill/);
      expect(current(press(backup, 'd')).name).toBe('backup');
    }
  });

  it('Esc asks to stop; n goes on; y stops (the abort drops the scratch databases); the stopped result', () => {
    let s = press(drilling(), ESC);
    expect(current(s)).toMatchObject({ name: 'work', ask: 'stop' });
    expect(current(press(s, 'n'))).toMatchObject({ name: 'work', ask: undefined, stopping: false });
    s = press(s, 'y');
    expect(current(s)).toMatchObject({ name: 'work', stopping: true, exitAfter: false });
    const id = (current(s) as any).job.id;
    s = run(s, {
      type: 'job-done',
      id,
      result: { ok: false, stopped: true, exitCode: 1, elapsedMs: 2000, error: 'stopped before it finished (stopped by the operator)', lines: ['the drill stopped: its scratch databases were dropped'] },
    });
    expect(current(s)).toMatchObject({ name: 'result', result: { stopped: true } });
    expect(s.exitCode).toBe(1);
    expect(s.history.at(-1)).toMatch(/^STOPPED: drill of /);
  });

  it('the result: differences end with exit code 3 and FAILED in the summary; Enter goes back to the list', () => {
    const s = finished(report([db('app', { outcome: 'differences', differences: [{ schema: 'public', table: 'orders', expected: 500, found: 480 }] })], 3));
    expect(s.exitCode).toBe(3);
    expect(s.history.at(-1)).toMatch(/^FAILED: drill of .*: DIFFERENCES \(exit code 3\): row counts differ in 1 of 1 database$/);
    expect(current(press(s, ENTER)).name).toBe('backups');
    expect(press(s, 'q').exit).toBe(3);
  });

  it('the verdict and its exit code, as `pg-backups drill` gives them', () => {
    expect(drillVerdict(report([db('app'), db('shop')]))).toBe('PASSED (exit code 0): every database restored and all row counts equal');
    expect(drillVerdict(report([db('app', { counts: 'not recorded', tablesChecked: 0 })]))).toBe(
      'PASSED (exit code 0): every database restored; 1 of 1 had no row counts recorded (an older backup): only their restore was checked',
    );
    expect(drillVerdict(report([db('app', { outcome: 'failed', error: 'connection refused' }), db('shop')], 1))).toBe('RESTORE FAILED (exit code 1): 1 of 2 databases did not restore');
    expect(drillVerdict(report([db('app', { outcome: 'damaged', error: 'sha256 differs' }), db('shop', { outcome: 'failed' })], 3))).toBe(
      'DAMAGED (exit code 3): 1 of 2 databases damaged (a file of the backup); 1 of 2 databases did not restore',
    );
  });
});

describe('where the scratch databases go (the screen\'s settings)', () => {
  const services = (env: Record<string, string>) => createServices(readOneServerScope({ env: { BACKUP_DIR: '/backups', PGHOST: 'db.internal', PGUSER: 'postgres', ...env }, flags: {} }, { folderOnly: true }));

  it('the restore target server by default; DRILL_TARGET names its own server (never its password)', () => {
    expect(services({}).drillWhere).toMatch(/^postgres@db\.internal:5432$/);
    const other = services({ DRILL_TARGET: 'postgresql://drill:s3cret-pw@scratch.example:5433/postgres' });
    expect(other.drillWhere).toMatch(/^drill@scratch\.example:5433.* \(DRILL_TARGET\)$/);
    expect(other.drillWhere).not.toContain('s3cret-pw');
  });

  it('a wrong DRILL_TARGET does not keep the screen from opening: the screen says so, and a drill stops with exit 2', async () => {
    const s = services({ DRILL_TARGET: 'scratch.example' });
    expect(s.drillWhere).toMatch(/^nowhere: DRILL_TARGET is not a connection URI/);
    const started = (async () => s.drill('latest', 'local', new AbortController().signal, () => {}))();
    await expect(started).rejects.toBeInstanceOf(UsageError);
  });
});

describe('a drill drawn at 80x24', () => {
  it('the backup screen offers it and says where the scratch databases go', () => {
    const s = press(loaded(), ENTER);
    const f = draw(s);
    expect(f).toMatch(/Drill: restore it into scratch databases and check every table's row count/);
    expect(f).toMatch(/into scratch databases on postgres@db\.internal:5432; dropped after/);
    expect(f.split('\n').at(-1)).toMatch(/d drill/);
    expectFits(f, s);
  });

  it('progress: one set of phases per database, the log, the stop question for a drill', () => {
    let s = drilling();
    const id = (current(s) as any).job.id;
    s = run(
      s,
      { type: 'job-progress', id, progress: { id: 'app\nlisting:local', kind: 'listing', label: '"app": listing local:/backups', state: 'done', bytes: 0, elapsedMs: 80 } },
      { type: 'job-progress', id, progress: { id: 'shop\nlisting:local', kind: 'listing', label: '"shop": listing local:/backups', state: 'done', bytes: 0, elapsedMs: 90 } },
      {
        type: 'job-progress',
        id,
        progress: { id: 'shop\nrestore-database:pgb_drill_0123456789abcdef', kind: 'restore-database', label: '"shop": restore of database "shop" as "pgb_drill_0123456789abcdef"', state: 'running', bytes: 1048576, totalBytes: 4 * 1048576, elapsedMs: 2000, object: 'table public.orders' },
      },
      { type: 'job-log', id, line: { level: 'info', text: '"app": passed, restored in 1.3 s, 20 KB, 14 tables checked, every count equal' } },
    );
    let f = draw(s);
    expect(f).toMatch(/pg-backups › .* › drilling/);
    expect(f).toMatch(new RegExp(`drill of ${folderAt(2)} \\(local\\) on postgres@db\\.internal:5432 · elapsed`));
    expect(f).toMatch(/\[done\] +"app": listing local:\/backups/);
    expect(f).toMatch(/\[done\] +"shop": listing local:\/backups/);
    expect(f).toMatch(/\[\.\.\.\.\] +"shop": restore of database "shop" as "pgb_drill_0123456789abcdef"/);
    expect(f).toMatch(/ 25%  1\.0 MB of 4\.0 MB/);
    expect(f).toMatch(/"app": passed, restored in 1\.3 s/);
    expectFits(f, s);
    s = press(s, { ctrl: true }); // a lone Ctrl is no key
    s = run(s, { type: 'interrupt' });
    f = draw(s);
    expect(f).toMatch(/Stop the drill\? y: stop now · n: go on/);
    expect(f).toMatch(/\(its scratch databases are dropped; no other database is touched\)/);
    expectFits(f, s);
    expect(draw(press(s, 'y'))).toMatch(/Stopping: .*dropping the scratch databases/);
  });

  it('a passed drill: the table of databases with time, size and tables checked, the verdict with exit code 0', () => {
    const s = finished(report([db('app'), db('shop', { restoreSeconds: 0.5, bytes: 4096, tablesChecked: 1 }), db('legacy_custom', { counts: 'not recorded', tablesChecked: 0 })]));
    const f = draw(s);
    expect(f).toMatch(/Done: drill of /);
    expect(f).toMatch(/PASSED \(exit code 0\): every database restored; 1 of 3 had no row counts recorded\s+\(an older backup\)/);
    expect(f).toMatch(/database +restore +size +tables +differences/);
    expect(f).toMatch(/app +1\.3 s +20 KB +14 +none/);
    expect(f).toMatch(/shop +0\.5 s +4\.0 KB +1 +none/);
    expect(f).toMatch(/legacy_custom +1\.3 s +20 KB +0 +counts not recorded/);
    expect(f).toMatch(/scratch databases on postgres@db\.internal:5432 \(PostgreSQL 15\.18\), all dropped/);
    expect(f).toMatch(/exit code if you quit now: 0/);
    expectFits(f, s);
  });

  it('differences: the first ones in words, then "and N more"; a failed restore says why; exit code 3; fits 80 columns', () => {
    const differences = Array.from({ length: 30 }, (_, i) => ({ schema: 'public', table: `t${i}`, expected: 100 + i, found: i === 0 ? null : 90 }));
    const s = finished(
      report(
        [
          db('app', { outcome: 'differences', tablesChecked: 40, differences }),
          db('shop', { outcome: 'failed', restoreSeconds: 0.2, tablesChecked: 0, error: 'psql: could not connect to server: connection refused' }),
          db('a-database-with-a-really-long-name-that-goes-on'),
        ],
        3,
      ),
    );
    const f = draw(s);
    expect(f).toMatch(/FAILED: drill of /);
    expect(f).toMatch(/DIFFERENCES \(exit code 3\): row counts differ in 1 of 3 databases; 1 of 3\s+databases\s+did\s+not\s+restore/);
    expect(f).toMatch(/app +1\.3 s +20 KB +40 +30 differ/);
    expect(f).toMatch(/shop +0\.2 s +20 KB +- +RESTORE FAILED/);
    expect(f).toMatch(/a-database-with-a-rea… +1\.3 s/);
    expect(f).toMatch(/"shop": psql: could not connect to server/);
    expect(f).toMatch(/"app" public\.t0: recorded 100 rows, not in the restored database/);
    expect(f).toMatch(/"app" public\.t1: recorded 101 rows, restored 90/);
    expect(f).toMatch(/\.\.\. and \d+ more/);
    expect(f).toMatch(/exit code if you quit now: 3/);
    expectFits(f, s);
  });
});

describe('a drill from the screen, end to end (real PostgreSQL 15, a real pseudo-terminal)', () => {
  let server: PgServer;
  let dir: string;
  const sessions: PtySession[] = [];
  const env = (extra: Record<string, string> = {}) =>
    baseEnv({
      ...server.env(),
      PATH: `${clientBinDir(15)}:/usr/bin:/bin`,
      BACKUP_DIR: join(dir, 'backups'),
      RESTORE_DIR: join(dir, 'restore'),
      ...extra,
    });
  const drillsRecorded = async () => JSON.parse(await readFile(join(dir, 'backups', '.pg-backups-state.json'), 'utf8')).drills;
  const scratchLeft = async () => (await server.query(`SELECT datname FROM pg_database WHERE datname LIKE 'pgb\\_drill\\_%'`)).map((r) => r.datname);

  beforeAll(async () => {
    [server, dir] = await Promise.all([startPgServer(15), makeTempDir('ui-drill-')]);
    await server.query('CREATE DATABASE shop');
    await server.query(`CREATE TABLE orders (id int PRIMARY KEY, item text); INSERT INTO orders SELECT g, 'item ' || g || E'\\n\\\\' FROM generate_series(1, 1234) g`, 'shop');
    await server.query('CREATE TABLE empty (id int)', 'shop');
    await server.query('CREATE DATABASE app');
    await server.query(`CREATE SCHEMA sales; CREATE TABLE sales.customers AS SELECT g AS id FROM generate_series(1, 77) g`, 'app');
    const r = await runCli(['backup'], env());
    expect(r.code, r.stderr).toBe(0);
  });
  afterEach(async () => {
    for (const s of sessions.splice(0)) await endSession(s);
  });
  afterAll(async () => {
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('d on the backup: every database restored into a scratch database and passed; q exits 0; nothing left on the server', async () => {
    const ui = spawnCliInPty([], env());
    sessions.push(ui);
    await ui.waitForText(/local .*ok, 1 backup/);
    await ui.press('\r');
    let screen = await ui.waitForText(/Drill: restore it into scratch databases/);
    expect(screen).toMatch(/into scratch databases on postgres@127\.0\.0\.1:\d+; dropped after/);
    await ui.press('d');
    screen = await ui.waitForText(/Done: drill of|FAILED: drill of/, 180_000);
    expect(screen).toMatch(/PASSED \(exit code 0\): every database restored and all row counts equal/);
    expect(screen).toMatch(/database +restore +size +tables +differences/);
    expect(screen).toMatch(/^shop +\d+\.\d s +\S+ \S+ +2 +none$/m);
    expect(screen).toMatch(/^app +\d+\.\d s +\S+ \S+ +1 +none$/m);
    expect(screen).toMatch(/exit code if you quit now: 0/);
    expect(await scratchLeft()).toEqual([]);
    await ui.press('q');
    expect((await ui.exited).exitCode).toBe(0);
    // The session log has the drill as other jobs write theirs: started, each database, the verdict, the end.
    const logs = (await readdir(join(dir, 'restore'))).filter((f) => f.startsWith('pg-backups-session-'));
    expect(logs).toHaveLength(1);
    const log = await readFile(join(dir, 'restore', logs[0]!), 'utf8');
    expect(log).toMatch(/info +started: drill of \d{8}_\d{6} \(local\)/);
    expect(log).toMatch(/info +"shop": passed, restored in \d+\.\d s, .*, 2 tables checked, every count equal/);
    expect(log).toMatch(/info +dropped the scratch database "pgb_drill_[0-9a-f]{16}"/);
    expect(log).toMatch(/info +PASSED \(exit code 0\): every database restored/);
    expect(log).toMatch(/info +finished: drill of /);
    expect(await scratchLeft()).toEqual([]);
    // Recorded in the run history as any drill: status shows it.
    expect(await drillsRecorded()).toMatchObject([{ trigger: 'screen', outcome: 'passed', databases: 3, tablesChecked: 3, differences: 0 }]);
    const status = await runCli(['status'], env());
    expect(status.stdout).toMatch(/last drill: passed .*3 database\(s\), 3 table\(s\) checked/);
  }, 240_000);

  it('Esc, then y, in the middle of a restore: the drill stops, its scratch databases are dropped, q exits 1', async () => {
    // A database big enough that its restore is still running when the keys arrive; a newer backup holds it.
    await server.query('CREATE DATABASE big');
    await server.query(`CREATE TABLE rows AS SELECT g AS id, repeat(md5(g::text), 4) AS b FROM generate_series(1, 1500000) g`, 'big');
    const r = await runCli(['backup'], env({ BACKUP_DATABASES: 'big' }));
    expect(r.code, r.stderr).toBe(0);
    const ui = spawnCliInPty([], env());
    sessions.push(ui);
    await ui.waitForText(/local .*ok, 2 backups/);
    await ui.press('\r', 'd');
    await ui.waitForText(/\[\.\.\.\.\] +"big": restore of database "big" as "pgb_drill_[0-9a-f]{16}"/, 120_000);
    await ui.press('\x1b');
    await ui.waitForText(/Stop the drill\? y: stop now/);
    expect(ui.screen()).toMatch(/its scratch databases are dropped; no other database is touched/);
    await ui.press('y');
    const screen = await ui.waitForText(/STOPPED: drill of /, 120_000);
    expect(screen).toMatch(/the drill stopped: its scratch databases were dropped/);
    expect(await scratchLeft()).toEqual([]);
    await ui.press('q');
    expect((await ui.exited).exitCode).toBe(1);
    expect(await scratchLeft()).toEqual([]);
    expect((await drillsRecorded()).at(-1)).toMatchObject({ trigger: 'screen', outcome: 'stopped' });
  }, 360_000);
});
