// Calendar rotation (KEEP_DAILY, KEEP_WEEKLY, KEEP_MONTHLY), pure: ISO weeks across year boundaries
// (checked against GNU date's %G-W%V for every day of 41 years), months, gaps, future folders, and
// how the rules combine with the days; and reading the settings.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { UsageError } from '../../src/core/errors.js';
import { retentionPlan } from '../../src/core/retention.js';
import { isoWeek, keptByRules, periodOf, type KeepRule } from '../../src/core/rotation.js';
import { readKeepRules } from '../../src/core/settings/destinations.js';
import type { BackupEntry } from '../../src/core/source.js';

const DAY = 24 * 3600 * 1000;
const at = (iso: string) => new Date(`${iso}Z`);
const folderOf = (t: Date) => t.toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);
const entry = (iso: string, status: BackupEntry['status'] = 'finished'): BackupEntry => ({ folder: folderOf(at(iso)), time: at(iso), status, files: [] });
const rule = (period: KeepRule['period'], count: number, setting = `KEEP_${period.toUpperCase()}`): KeepRule => ({ period, count, setting });
const kept = (entries: BackupEntry[], rules: KeepRule[]) => [...keptByRules(entries, rules).keys()].sort();
const folders = (...isos: string[]) => isos.map((i) => folderOf(at(i))).sort();

describe('ISO 8601 weeks', () => {
  it('2026-12-28 (Monday) to 2027-01-03 (Sunday) is 2026-W53; 2027-01-04 starts 2027-W01', () => {
    for (let d = 28; d <= 31; d++) expect(periodOf(at(`2026-12-${d}T12:00:00`), 'weekly')).toBe('2026-W53');
    for (let d = 1; d <= 3; d++) expect(periodOf(at(`2027-01-0${d}T23:59:59`), 'weekly')).toBe('2026-W53');
    expect(periodOf(at('2027-01-04T00:00:00'), 'weekly')).toBe('2027-W01');
    expect(periodOf(at('2026-12-27T23:59:59'), 'weekly')).toBe('2026-W52');
  });

  it('other boundaries: a week of December in next year, a week of January in last year', () => {
    expect(isoWeek(at('2024-12-30T00:00:00'))).toEqual({ year: 2025, week: 1 });
    expect(isoWeek(at('2024-12-29T23:59:59'))).toEqual({ year: 2024, week: 52 });
    expect(isoWeek(at('2021-01-03T10:00:00'))).toEqual({ year: 2020, week: 53 });
    expect(isoWeek(at('2021-01-04T00:00:00'))).toEqual({ year: 2021, week: 1 });
    expect(isoWeek(at('2008-12-29T00:00:00'))).toEqual({ year: 2009, week: 1 });
    expect(isoWeek(at('2010-01-03T00:00:00'))).toEqual({ year: 2009, week: 53 });
    expect(isoWeek(at('2023-01-01T00:00:00'))).toEqual({ year: 2022, week: 52 });
  });

  it("matches GNU date's %G-W%V for every day from 2000 to 2040", () => {
    const days: Date[] = [];
    for (let t = Date.UTC(2000, 0, 1, 13); t < Date.UTC(2041, 0, 1); t += DAY) days.push(new Date(t));
    const input = days.map((d) => d.toISOString()).join('\n') + '\n';
    const expected = execFileSync('date', ['-u', '-f', '-', '+%G-W%V'], { input, encoding: 'utf8' }).trim().split('\n');
    expect(days.map((d) => periodOf(d, 'weekly'))).toEqual(expected);
  });
});

describe('days and months', () => {
  it('are UTC: the last second of a day or month and the first of the next differ', () => {
    expect(periodOf(at('2026-03-31T23:59:59'), 'daily')).toBe('2026-03-31');
    expect(periodOf(at('2026-04-01T00:00:00'), 'daily')).toBe('2026-04-01');
    expect(periodOf(at('2026-03-31T23:59:59'), 'monthly')).toBe('2026-03');
    expect(periodOf(at('2026-04-01T00:00:00'), 'monthly')).toBe('2026-04');
    expect(periodOf(at('2028-02-29T12:00:00'), 'daily')).toBe('2028-02-29');
  });
});

describe('keptByRules', () => {
  const twoADay = ['2026-11-01', '2026-11-02', '2026-11-05', '2026-11-09'].flatMap((d) => [entry(`${d}T03:00:00`), entry(`${d}T15:00:00`)]);

  it('KEEP_DAILY keeps the newest backup of each of the n newest days that have one: gaps use up no count', () => {
    expect(kept(twoADay, [rule('daily', 3)])).toEqual(folders('2026-11-09T15:00:00', '2026-11-05T15:00:00', '2026-11-02T15:00:00'));
    expect(kept(twoADay, [rule('daily', 10)])).toEqual(folders('2026-11-09T15:00:00', '2026-11-05T15:00:00', '2026-11-02T15:00:00', '2026-11-01T15:00:00'));
    expect(kept(twoADay, [])).toEqual([]);
  });

  it('KEEP_WEEKLY counts ISO weeks across the year boundary', () => {
    const backups = ['2026-12-20', '2026-12-27', '2026-12-28', '2027-01-01', '2027-01-03', '2027-01-04'].map((d) => entry(`${d}T02:00:00`));
    // weeks: 2026-W51, 2026-W52, 2026-W53 (Dec 28 .. Jan 3), 2027-W01
    expect(kept(backups, [rule('weekly', 3)])).toEqual(folders('2027-01-04T02:00:00', '2027-01-03T02:00:00', '2026-12-27T02:00:00'));
    expect(keptByRules(backups, [rule('weekly', 2)]).get(folderOf(at('2027-01-03T02:00:00')))).toEqual(['KEEP_WEEKLY: newest of 2026-W53']);
  });

  it('KEEP_MONTHLY: the newest of each month that has a backup, months without one skipped', () => {
    const backups = ['2025-10-31T23:00:00', '2025-11-15T00:00:00', '2026-02-01T00:00:00', '2026-02-28T23:59:59', '2026-03-01T00:00:00'].map((i) => entry(i));
    expect(kept(backups, [rule('monthly', 3)])).toEqual(folders('2026-03-01T00:00:00', '2026-02-28T23:59:59', '2025-11-15T00:00:00'));
    expect(kept(backups, [rule('monthly', 12)])).toHaveLength(4);
  });

  it('each rule counts on its own; a backup kept by several rules lists them all', () => {
    const daily = Array.from({ length: 20 }, (_, i) => entry(new Date(Date.UTC(2026, 10, 1 + i, 4)).toISOString().slice(0, 19)));
    const result = keptByRules(daily, [rule('daily', 2, 'S3_KEEP_DAILY'), rule('weekly', 2), rule('monthly', 1)]);
    expect(result.get(folderOf(at('2026-11-20T04:00:00')))).toEqual(['S3_KEEP_DAILY: newest of 2026-11-20', 'KEEP_WEEKLY: newest of 2026-W47', 'KEEP_MONTHLY: newest of 2026-11']);
    expect(result.get(folderOf(at('2026-11-19T04:00:00')))).toEqual(['S3_KEEP_DAILY: newest of 2026-11-19']);
    expect(result.get(folderOf(at('2026-11-15T04:00:00')))).toEqual(['KEEP_WEEKLY: newest of 2026-W46']); // a Sunday
    expect(result.size).toBe(3);
  });
});

describe('retentionPlan: the days AND the rules', () => {
  const now = at('2026-12-01T12:00:00');
  const daily = Array.from({ length: 60 }, (_, i) => entry(new Date(now.getTime() - i * DAY - 3600_000).toISOString().slice(0, 19)));

  it('a backup goes only when older than the days and kept by no rule; reasons name both', () => {
    const plan = retentionPlan(daily, { days: 10, daysSetting: 'S3_RETENTION_DAYS', rules: [rule('weekly', 5, 'S3_KEEP_WEEKLY')] }, now);
    const keptFolders = daily.map((e) => e.folder).filter((f) => !plan.expired.some((e) => e.folder === f));
    // 10 days (Dec 1 .. Nov 22, 0..9 days old; Nov 21 is 10 days + 1 h old); the 5 newest weeks
    // (W49 .. W45) have their newest in Dec 1, Nov 29, Nov 22, then the Sundays Nov 15 and Nov 8 beyond
    expect(keptFolders).toHaveLength(10 + 2);
    expect([...plan.keptByRule.keys()]).toHaveLength(2);
    for (const [, why] of plan.keptByRule) expect(why[0]).toMatch(/^S3_KEEP_WEEKLY: newest of 2026-W4[56]$/);
    const oldest = daily[59]!.folder;
    expect(plan.reasons.get(oldest)).toBe('59 days old, past S3_RETENTION_DAYS=10, kept by no rule of S3_KEEP_WEEKLY=5');
    expect(retentionPlan(daily, { days: 10, daysSetting: 'LOCAL_RETENTION_DAYS' }, now).reasons.get(oldest)).toBe('59 days old, past LOCAL_RETENTION_DAYS=10');
  });

  it('days 0 and KEEP_DAILY=7 KEEP_WEEKLY=4 (seed 003) keep 7 days and the Sundays of 3 more weeks', () => {
    const plan = retentionPlan(daily, { days: 0, rules: [rule('daily', 7), rule('weekly', 4)] }, now);
    const left = daily.filter((e) => !plan.expired.includes(e)).map((e) => e.time.toISOString().slice(0, 10));
    // now is Tuesday 2026-12-01: days Dec 1 .. Nov 25 (W49 and W48 partly), then Sundays Nov 22, 15 (W47, W46)
    expect(left).toEqual(['2026-12-01', '2026-11-30', '2026-11-29', '2026-11-28', '2026-11-27', '2026-11-26', '2026-11-25', '2026-11-22', '2026-11-15']);
  });

  it('only good backups count and are kept: incomplete, damaged, legacy, foreign and future folders neither use up a period nor are touched', () => {
    const entries = [
      entry('2099-01-01T00:00:00'), // future: not good, never deleted, never the newest
      entry('2026-11-30T20:00:00', 'incomplete'),
      entry('2026-11-30T10:00:00'),
      entry('2026-11-29T20:00:00', 'damaged'),
      entry('2026-11-29T10:00:00'),
      entry('2026-11-28T20:00:00', 'legacy'),
      entry('2026-11-28T10:00:00'),
      entry('2026-11-27T10:00:00', 'foreign'),
      entry('2026-11-26T10:00:00'),
    ];
    const plan = retentionPlan(entries, { days: 0, rules: [rule('daily', 2)] }, now);
    expect(plan.expired.map((e) => e.folder)).toEqual(folders('2026-11-28T10:00:00', '2026-11-26T10:00:00').reverse());
    expect([...plan.keptByRule.keys()]).toEqual(folders('2026-11-29T10:00:00')); // the newest (Nov 30) is kept anyway, not "by rule"
  });

  it('the newest good backup and `keep` stay whatever the rules; a rule of a future day does not exist', () => {
    const entries = [entry('2099-06-01T00:00:00'), entry('2026-10-01T00:00:00'), entry('2026-09-01T00:00:00'), entry('2026-08-01T00:00:00')];
    const plan = retentionPlan(entries, { days: 0, rules: [rule('monthly', 1)] }, now, [folderOf(at('2026-08-01T00:00:00'))]);
    expect(plan.expired.map((e) => e.folder)).toEqual(folders('2026-09-01T00:00:00'));
  });
});

describe('reading KEEP_* settings', () => {
  const read = (env: Record<string, string>, place: 'LOCAL' | 'S3' | 'RSYNC') => readKeepRules({ env, flags: {} }, place);

  it('unset is off; KEEP_* applies to every place; a place’s own setting wins, 0 turns a rule off there', () => {
    expect(read({}, 'LOCAL')).toEqual([]);
    const env = { KEEP_DAILY: '7', KEEP_WEEKLY: '4', S3_KEEP_WEEKLY: '0', S3_KEEP_MONTHLY: '12', RSYNC_KEEP_DAILY: '30' };
    expect(read(env, 'LOCAL')).toEqual([rule('daily', 7), rule('weekly', 4)]);
    expect(read(env, 'S3')).toEqual([rule('daily', 7), rule('monthly', 12, 'S3_KEEP_MONTHLY')]);
    expect(read(env, 'RSYNC')).toEqual([rule('daily', 30, 'RSYNC_KEEP_DAILY'), rule('weekly', 4)]);
    expect(readKeepRules({ env: {}, flags: { 'keep-monthly': '6' } }, 'S3')).toEqual([rule('monthly', 6)]);
  });

  it('a bad value is a usage error (exit 2) naming the variable, with a good example', () => {
    for (const [env, place, message] of [
      [{ KEEP_DAILY: 'seven' }, 'LOCAL', /^KEEP_DAILY="seven" is not a whole number; use a number from 0 to 10000, e.g. KEEP_DAILY=7$/],
      [{ S3_KEEP_WEEKLY: '-1' }, 'S3', /^S3_KEEP_WEEKLY=-1 is out of range; use a number from 0 to 10000, e.g. S3_KEEP_WEEKLY=4$/],
      [{ RSYNC_KEEP_MONTHLY: '' }, 'RSYNC', /^RSYNC_KEEP_MONTHLY is set but empty/],
      // a bad KEEP_* is refused even where a place's own setting overrides it
      [{ KEEP_MONTHLY: '1.5', LOCAL_KEEP_MONTHLY: '3' }, 'LOCAL', /^KEEP_MONTHLY="1.5" is not a whole number/],
    ] as const) {
      let error: unknown;
      try {
        read(env as Record<string, string>, place);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(UsageError);
      expect((error as Error).message).toMatch(message);
    }
  });
});
