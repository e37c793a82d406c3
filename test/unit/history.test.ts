// Pure parts of the run history and the schedule: bounded atomic state file, the health verdict,
// durations, and the schedule's interval.
import { describe, expect, it } from 'vitest';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evaluateHealth, formatDuration } from '../../src/core/history/health.js';
import type { RunRecord } from '../../src/core/history/run-record.js';
import { appendDrill, appendRun, markDrillsSince, MAX_RUNS, readDrills, readHistory, readRunHistory, STATE_FILE } from '../../src/core/history/state-file.js';
import { longestInterval, nextRuns } from '../../src/core/schedule/cron-schedule.js';
import { readMaxAge } from '../../src/core/settings/schedule.js';
import { registerSecret } from '../../src/core/secrets.js';
import type { BackupEntry } from '../../src/core/source.js';

const run = (i: number, extra: Partial<RunRecord> = {}): RunRecord => ({
  trigger: 'schedule',
  outcome: 'ok',
  startedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
  finishedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
  destinations: [{ kind: 'local', location: '/b', ok: true }],
  ...extra,
});

describe('run history state file', () => {
  it(`keeps the newest ${MAX_RUNS} runs, leaves no temp file, redacts secrets, replaces a damaged file`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hist-'));
    for (let i = 0; i < MAX_RUNS + 5; i++) await appendRun(dir, run(i));
    const runs = await readHistory(dir);
    expect(runs).toHaveLength(MAX_RUNS);
    expect(runs[0]!.startedAt).toBe(run(5).startedAt);
    expect(await readdir(dir)).toEqual([STATE_FILE]);
    registerSecret('hunter2-secret');
    await appendRun(dir, run(200, { outcome: 'failed', error: 'login failed with hunter2-secret' }));
    expect(await readFile(join(dir, STATE_FILE), 'utf8')).not.toContain('hunter2-secret');
    await writeFile(join(dir, STATE_FILE), '{not json');
    await expect(readHistory(dir)).rejects.toThrow(/run history .* is damaged/);
    await appendRun(dir, run(300));
    expect(await readHistory(dir)).toHaveLength(1);
  });

  it('keeps drills beside the runs: appending one kind never drops the other; an old file has none', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hist-'));
    await appendRun(dir, run(1));
    expect(await readDrills(dir)).toEqual([]);
    const drill = { trigger: 'drill' as const, outcome: 'differences' as const, startedAt: run(2).startedAt, finishedAt: run(3).startedAt, folder: '20260101_000000', databases: 2, tablesChecked: 7, differences: 1, error: 'public.orders: recorded 500 rows, restored 493 (hunter2-secret)' };
    registerSecret('hunter2-secret');
    await appendDrill(dir, drill);
    await appendRun(dir, run(4));
    expect(await readHistory(dir)).toHaveLength(2);
    const drills = await readDrills(dir);
    expect(drills).toHaveLength(1);
    expect(drills[0]).toMatchObject({ outcome: 'differences', tablesChecked: 7, differences: 1 });
    expect(await readFile(join(dir, STATE_FILE), 'utf8')).not.toContain('hunter2-secret');
    for (let i = 0; i < MAX_RUNS + 3; i++) await appendDrill(dir, { ...drill, outcome: 'passed', differences: 0 });
    expect(await readDrills(dir)).toHaveLength(MAX_RUNS);
    expect(await readHistory(dir)).toHaveLength(2);
    // When drills began is noted once (the first time stays) and kept through appends.
    expect((await readRunHistory(dir)).drillsSince).toBeUndefined();
    await markDrillsSince(dir, new Date(Date.UTC(2026, 5, 1)));
    await markDrillsSince(dir, new Date(Date.UTC(2026, 6, 1)));
    await appendRun(dir, run(5));
    await appendDrill(dir, drill);
    expect((await readRunHistory(dir)).drillsSince).toEqual(new Date(Date.UTC(2026, 5, 1)));
    expect(await readHistory(dir)).toHaveLength(3);
  });
});

describe('health verdict', () => {
  const now = new Date(Date.UTC(2026, 0, 2));
  const entry = (hoursAgo: number): BackupEntry => ({ folder: 'f', time: new Date(now.getTime() - hoursAgo * 3600e3), status: 'finished', files: [] }) as unknown as BackupEntry;
  it('healthy when recent and the last run ok; a stopped run does not count; failed or old is unhealthy', () => {
    expect(evaluateHealth({ runs: [run(1)], entries: [entry(1)], maxAgeMs: 2 * 3600e3, now }).healthy).toBe(true);
    expect(evaluateHealth({ runs: [run(1), run(2, { outcome: 'stopped' })], entries: [entry(1)], maxAgeMs: 2 * 3600e3, now }).healthy).toBe(true);
    const failed = evaluateHealth({ runs: [run(1), run(2, { outcome: 'failed', error: 'boom' })], entries: [entry(1)], maxAgeMs: 2 * 3600e3, now });
    expect(failed).toMatchObject({ healthy: false });
    expect(failed.reason).toMatch(/failed: boom$/);
    expect(evaluateHealth({ runs: [run(1)], entries: [entry(3)], maxAgeMs: 2 * 3600e3, now }).reason).toMatch(/is 3h old, older than HEALTHCHECK_MAX_AGE 2h$/);
    expect(evaluateHealth({ runs: [], entries: [], maxAgeMs: 1, now }).reason).toBe('no finished backup in BACKUP_DIR yet');
  });
  it('drills judged: until one has passed, the service has DRILL_MAX_AGE from when drills began (noted, else the oldest record)', () => {
    const base = { entries: [entry(1)], maxAgeMs: 2 * 3600e3, now, drillMaxAgeMs: 8 * 86400e3 };
    const runAgo = (days: number) => run(0, { startedAt: new Date(now.getTime() - days * 86400e3).toISOString() });
    // A service begun two days ago: no drill yet is fine; ten days ago it is not.
    const young = evaluateHealth({ ...base, runs: [runAgo(2)] });
    expect(young.healthy).toBe(true);
    expect(young.reason).toMatch(/no drill has passed yet, and drills began 2d ago, within DRILL_MAX_AGE 8d$/);
    const old = evaluateHealth({ ...base, runs: [runAgo(10)] });
    expect(old).toMatchObject({ healthy: false, reason: 'no drill has passed in the 10d since drills began (DRILL_MAX_AGE 8d)' });
    // A long-running service that just started drilling: noted by schedule, so the old runs do not count.
    expect(evaluateHealth({ ...base, runs: [runAgo(300)], drillsSince: new Date(now.getTime() - 86400e3) }).healthy).toBe(true);
    // A failed last drill is unhealthy at once; a stopped one does not count.
    const drill = (outcome: 'failed' | 'stopped' | 'passed', daysAgo: number) => ({ trigger: 'schedule' as const, outcome, startedAt: new Date(now.getTime() - daysAgo * 86400e3).toISOString(), finishedAt: new Date(now.getTime() - daysAgo * 86400e3).toISOString(), databases: 1, tablesChecked: 1, differences: 0, ...(outcome === 'failed' ? { error: 'down' } : {}) });
    expect(evaluateHealth({ ...base, runs: [runAgo(1)], drills: [drill('failed', 0.5)] }).reason).toMatch(/^the last drill \(started .*\) failed: down$/);
    expect(evaluateHealth({ ...base, runs: [runAgo(20)], drills: [drill('passed', 3), drill('stopped', 1)] }).healthy).toBe(true);
    expect(evaluateHealth({ ...base, runs: [runAgo(20)], drills: [drill('passed', 9)] }).reason).toMatch(/the newest passed drill ended 9d ago, longer than DRILL_MAX_AGE 8d/);
  });

  it('formats durations with their two largest units', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(90_000)).toBe('1m 30s');
    expect(formatDuration(25 * 3600e3)).toBe('1d 1h');
  });
});

describe('schedule', () => {
  it('the interval of a weekday schedule is its longest gap (the weekend); TZ moves the UTC times', () => {
    const from = new Date(Date.UTC(2026, 0, 5)); // a Monday
    expect(longestInterval({ expression: '30 2 * * 1-5' }, from)).toBe(3 * 86400e3);
    expect(longestInterval({ expression: '*/2 * * * * *' }, from)).toBe(2000);
    expect(nextRuns({ expression: '0 3 * * *', timezone: 'Asia/Tokyo' }, 1, from)[0]!.toISOString()).toBe('2026-01-05T18:00:00.000Z');
  });
  it('HEALTHCHECK_MAX_AGE takes durations and seconds', () => {
    const read = (v: string) => readMaxAge({ env: { HEALTHCHECK_MAX_AGE: v }, flags: {} });
    expect(read('25h')).toBe(25 * 3600e3);
    expect(read('1h30m')).toBe(5400e3);
    expect(read('3600')).toBe(3600e3);
    expect(() => read('0')).toThrow(/not a positive duration/);
    expect(() => read('1 day')).toThrow(/HEALTHCHECK_MAX_AGE='1 day' is not a duration/);
  });
});
