// Calendar rotation over a generated year of daily backups, on local disk, on S3 (s3rver) and on the
// remote host (sshd + SFTP), each with its own days and KEEP_* rules, through the built CLI's
// `pg-backups prune`. The expected survivors are computed here by a plain model (not the production
// code): a week is named by its Monday's date, a day and a month by the ISO date's first 10 and 7
// characters. Besides the backups, each place holds noise that must stay as it is: a folder without
// a manifest, a legacy folder (001's *.sql.gz only), a damaged manifest, an incomplete backup dated
// on a day a rule keeps, a whole backup dated in 2099, and a foreign file. Some backups are missing
// on S3 and on the remote host (uploads that failed): the local copy of one stays exactly when that
// place's own days or rules say it should hold it.
// The CLI has no clock to fix, so the calendar is made relative to the real now: each backup lies at
// least 30 minutes inside its day of age, so that the seconds the run takes never move one across a
// *_RETENTION_DAYS boundary. The seed is printed; PGB_ROTATION_SEED=<n> replays a calendar.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomInt } from 'node:crypto';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { baseEnv, runCli } from './helpers/cli.js';
import { folderAt, folderFiles, writeFolder } from './helpers/fake-backup.js';
import { prng } from './helpers/fixture-sql.js';
import { startPgServer, type PgServer } from './helpers/pg-server.js';
import { startS3Server, type S3Server } from './helpers/s3-server.js';
import { startSshd, type SshServer } from './helpers/sshd.js';
import { freePort, makeTempDir } from './helpers/tmp.js';
import { snapshot } from './helpers/tree.js';

const DAY = 24 * 3600 * 1000;
const MINUTE = 60 * 1000;
const PREFIX = 'rotation';

interface Backup {
  folder: string;
  time: number;
}

interface Policy {
  days: number;
  daily: number;
  weekly: number;
  monthly: number;
}

type Place = 'local' | 's3' | 'remote';

// ---------------------------------------------------------------- the model

const timeOf = (folder: string) => Date.parse(`${folder.slice(0, 4)}-${folder.slice(4, 6)}-${folder.slice(6, 8)}T${folder.slice(9, 11)}:${folder.slice(11, 13)}:${folder.slice(13, 15)}Z`);

const dayOf = (t: number) => new Date(t).toISOString().slice(0, 10);
const monthOf = (t: number) => new Date(t).toISOString().slice(0, 7);
/** A week (Monday to Sunday, UTC) named by its Monday: the same grouping as ISO 8601 weeks. */
const mondayOf = (t: number) => {
  const midnight = Date.parse(`${dayOf(t)}T00:00:00Z`);
  return dayOf(midnight - ((new Date(midnight).getUTCDay() + 6) % 7) * DAY);
};

/** The newest backup of each of the `count` newest periods that have a backup. */
function newestOfPeriods(backups: Backup[], periodOf: (t: number) => string, count: number): Set<string> {
  const newestByPeriod = new Map<string, Backup>();
  for (const b of backups) {
    const period = periodOf(b.time);
    const seen = newestByPeriod.get(period);
    if (!seen || b.time > seen.time) newestByPeriod.set(period, b);
  }
  const periods = [...newestByPeriod.keys()].sort().reverse().slice(0, count);
  return new Set(periods.map((p) => newestByPeriod.get(p)!.folder));
}

/** What a place's policy keeps of `backups` (its good ones): the newest, the young ones, the rules'. */
function keptBy(backups: Backup[], policy: Policy, now: number): { kept: Set<string>; byRule: Set<string> } {
  const newest = backups.reduce((a, b) => (b.time > a.time ? b : a));
  const young = new Set(backups.filter((b) => b.time >= now - policy.days * DAY).map((b) => b.folder));
  const rules = new Set([
    ...newestOfPeriods(backups, dayOf, policy.daily),
    ...newestOfPeriods(backups, mondayOf, policy.weekly),
    ...newestOfPeriods(backups, monthOf, policy.monthly),
  ]);
  const kept = new Set([newest.folder, ...young, ...rules]);
  return { kept, byRule: new Set([...rules].filter((f) => f !== newest.folder && !young.has(f))) };
}

// ---------------------------------------------------------------- the test

describe('calendar rotation over a generated year, on local disk, S3 and the remote host', () => {
  const seed = process.env.PGB_ROTATION_SEED ? Number(process.env.PGB_ROTATION_SEED) : randomInt(2 ** 31);
  let s3: S3Server;
  let sshd: SshServer;
  let work: string;

  beforeAll(async () => {
    [s3, sshd, work] = await Promise.all([startS3Server(), startSshd(), makeTempDir('pgb-rotation-')]);
  });
  afterAll(async () => {
    await Promise.all([s3?.stop(), sshd?.stop()]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  async function s3Keys(): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.client().send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `${PREFIX}/`, ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).map((o) => o.Key!.slice(PREFIX.length + 1)));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys.sort();
  }

  async function putS3(files: Record<string, Buffer>, under: string): Promise<void> {
    for (const [name, body] of Object.entries(files)) {
      await s3.client().send(new PutObjectCommand({ Bucket: s3.bucket, Key: `${PREFIX}/${under}${name}`, Body: body }));
    }
  }

  /** In parallel, `limit` at a time. */
  async function eachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
    let next = 0;
    await Promise.all(Array.from({ length: limit }, async () => {
      while (next < items.length) await work(items[next++]!);
    }));
  }

  it(`keeps exactly what each place's days and KEEP_* rules keep, and every folder it did not write (seed ${seed})`, { timeout: 900_000 }, async () => {
    const rand = prng(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
    const timings: string[] = [];
    let lap = Date.now();
    const timed = (what: string) => {
      timings.push(`${what} ${((Date.now() - lap) / 1000).toFixed(1)} s`);
      console.log(`rotation test: ${timings.at(-1)}`);
      lap = Date.now();
    };

    // The calendar: a year of daily backups, each 30 min .. 23.5 h into its day of age; one day in ten
    // has a second backup; a pause of 5..15 days without any.
    const now = Date.now();
    const pauseStart = 40 + Math.floor(rand() * 250);
    const pauseDays = 5 + Math.floor(rand() * 11);
    const backups: Backup[] = [];
    for (let age = 0; age < 365; age++) {
      if (age >= pauseStart && age < pauseStart + pauseDays) continue;
      for (let n = rand() < 0.1 ? 2 : 1; n > 0; n--) {
        const folder = folderAt(now - age * DAY - 30 * MINUTE - Math.floor(rand() * 23 * 60) * MINUTE - Math.floor(rand() * 60) * 1000);
        if (!backups.some((b) => b.folder === folder)) backups.push({ folder, time: timeOf(folder) });
      }
    }
    backups.sort((a, b) => b.time - a.time);

    const policies: Record<Place, Policy> = {
      local: { days: 0, daily: pick([7, 10]), weekly: pick([4, 6]), monthly: 0 },
      s3: { days: pick([3, 5]), daily: 0, weekly: 0, monthly: pick([3, 6, 12]) },
      remote: { days: 14, daily: pick([30, 45]), weekly: pick([8, 12]), monthly: pick([6, 24]) },
    };
    const env = baseEnv({
      BACKUP_DIR: join(work, 'local'),
      ...s3.s3Env({ S3_PREFIX: PREFIX, RETRY_ATTEMPTS: '3', RETRY_DELAY: '0.05' }), // s3rver's DeleteObjects races now and then: retried
      ...sshd.rsyncEnv(join(sshd.remoteRoot, 'rotation')),
      // every place: seed 003's rotation
      KEEP_DAILY: String(policies.local.daily),
      KEEP_WEEKLY: String(policies.local.weekly),
      LOCAL_RETENTION_DAYS: '0',
      S3_RETENTION_DAYS: String(policies.s3.days),
      S3_KEEP_DAILY: '0', // off on S3, whatever KEEP_DAILY says
      S3_KEEP_WEEKLY: '0',
      S3_KEEP_MONTHLY: String(policies.s3.monthly),
      RSYNC_RETENTION_DAYS: String(policies.remote.days),
      RSYNC_KEEP_DAILY: String(policies.remote.daily),
      RSYNC_KEEP_WEEKLY: String(policies.remote.weekly),
      RSYNC_KEEP_MONTHLY: String(policies.remote.monthly),
    });

    // Uploads that failed: a few backups missing on S3 and on the remote host (never the newest).
    const older = backups.slice(1);
    const missing: Record<Place, Set<string>> = { local: new Set(), s3: new Set(), remote: new Set() };
    // on S3, one its monthly rule keeps and the local rules do not (so the local copy must stay), and random ones
    const localKept = keptBy(backups, policies.local, now).kept;
    missing.s3.add(pick([...keptBy(backups, policies.s3, now).byRule].filter((f) => !localKept.has(f))));
    for (let i = 0; i < 3; i++) missing.s3.add(pick(older).folder);
    for (let i = 0; i < 3; i++) missing.remote.add(pick(older).folder);

    // Noise, the same on every place, dated long ago (past every retention) or in the future.
    // an incomplete backup a minute after one the remote host's rules keep: it must not take its place
    const oldDay = pick(older.filter((b) => keptBy(backups, policies.remote, now).byRule.has(b.folder) && b.time < now - 30 * DAY && !missing.remote.has(b.folder)));
    const noise = {
      noManifest: folderAt(now - 300 * DAY + 7 * MINUTE),
      legacy: folderAt(now - 301 * DAY + 7 * MINUTE),
      damaged: folderAt(now - 302 * DAY + 7 * MINUTE),
      incomplete: folderAt(oldDay.time + MINUTE),
      future: '20990101_000000',
    };
    const noiseFolders: Array<[string, Record<string, Buffer>]> = [
      [noise.noManifest, { 'notes.txt': Buffer.from('an operator was here') }],
      [noise.legacy, (({ 'manifest.json': _m, ...rest }) => rest)(folderFiles(noise.legacy))],
      [noise.damaged, { ...folderFiles(noise.damaged), 'manifest.json': Buffer.from('{"format": "pg-backups/1",') }],
      [noise.incomplete, (({ 'postgres_globals.sql.gz': _g, ...rest }) => rest)(folderFiles(noise.incomplete))],
      [noise.future, folderFiles(noise.future)],
    ];
    const noiseNames = [...noiseFolders.map(([f]) => f), 'NOTES.txt'].sort();
    const describeRun = `seed ${seed}; now ${new Date(now).toISOString()}; pause at ${pauseStart} days for ${pauseDays}; policies ${JSON.stringify(policies)}; missing on S3 ${[...missing.s3].join(', ')}, on the remote host ${[...missing.remote].join(', ')}`;

    // Writing it all: local disk, the remote host's disk (the sshd is on this machine), S3.
    const localDir = join(work, 'local');
    const remoteDir = join(sshd.remoteRoot, 'rotation');
    for (const [place, dir] of [['local', localDir], ['remote', remoteDir]] as const) {
      await mkdir(dir, { recursive: true });
      for (const b of backups) if (!missing[place].has(b.folder)) await writeFolder(dir, b.folder, folderFiles(b.folder));
      for (const [folder, files] of noiseFolders) await writeFolder(dir, folder, files);
      await writeFile(join(dir, 'NOTES.txt'), 'not ours');
    }
    timed('writing 2 x 365 folders on disk');
    const uploads: Array<[Record<string, Buffer>, string]> = [
      ...backups.filter((b) => !missing.s3.has(b.folder)).map((b): [Record<string, Buffer>, string] => [folderFiles(b.folder), `${b.folder}/`]),
      ...noiseFolders.map(([folder, files]): [Record<string, Buffer>, string] => [files, `${folder}/`]),
      [{ 'NOTES.txt': Buffer.from('not ours') }, ''],
    ];
    await eachLimited(uploads, 16, ([files, under]) => putS3(files, under));
    timed(`uploading ${uploads.length} folders to s3rver`);

    // The model's answer for each place.
    const heldBy = (place: Place) => backups.filter((b) => !missing[place].has(b.folder));
    const expected = {} as Record<Place, { kept: Set<string>; byRule: Set<string> }>;
    for (const place of ['s3', 'remote'] as const) expected[place] = keptBy(heldBy(place), policies[place], now);
    // Locally: its own policy; besides, a backup a destination misses stays when that destination's
    // policy, over the whole calendar, would have kept it (the local copy is the only one).
    const local = keptBy(backups, policies.local, now);
    const stillNeeded = (['s3', 'remote'] as const).flatMap((place) => [...missing[place]].filter((f) => keptBy(backups, policies[place], now).kept.has(f)));
    expected.local = { kept: new Set([...local.kept, ...stillNeeded]), byRule: local.byRule };
    const all = new Set(backups.map((b) => b.folder));
    const expectedGone = (place: Place) => [...all].filter((f) => !missing[place].has(f) && !expected[place].kept.has(f)).sort();
    for (const place of ['local', 's3', 'remote'] as const) expect(expectedGone(place).length, `a calendar with nothing to delete on ${place}; ${describeRun}`).toBeGreaterThan(100);

    // --dry-run: says what would go and why, which rule keeps what, and changes nothing.
    const localBefore = await snapshot(localDir);
    const remoteBefore = await snapshot(remoteDir);
    const s3Before = await s3Keys();
    const dry = await runCli(['prune', '--dry-run', '--json'], env, 600_000);
    timed('prune --dry-run');
    expect(dry.code, `${dry.stderr}\n${describeRun}`).toBe(0);
    type Result = { source: Place; removed: string[]; reasons: Record<string, string>; keptByRule: Record<string, string[]>; kept: string[]; protected: string[] };
    const dryResults = JSON.parse(dry.stdout).results as Result[];
    expect(dryResults.map((r) => r.source)).toEqual(['s3', 'remote', 'local']);
    for (const r of dryResults) {
      expect(r.removed.sort(), `${r.source} would delete; ${describeRun}`).toEqual(expectedGone(r.source));
      expect(Object.keys(r.keptByRule).sort(), `${r.source} kept by rule; ${describeRun}`).toEqual(
        [...expected[r.source].byRule].filter((f) => !missing[r.source].has(f)).sort(),
      );
    }
    const [s3Dry, remoteDry, localDry] = dryResults as [Result, Result, Result];
    const anyReason = (r: Result) => r.reasons[r.removed[0]!]!;
    expect(anyReason(localDry)).toMatch(new RegExp(`^\\d+ days old, past LOCAL_RETENTION_DAYS=0, kept by no rule of KEEP_DAILY=${policies.local.daily}, KEEP_WEEKLY=${policies.local.weekly}$`));
    expect(anyReason(s3Dry)).toMatch(new RegExp(`^\\d+ days old, past S3_RETENTION_DAYS=${policies.s3.days}, kept by no rule of S3_KEEP_MONTHLY=${policies.s3.monthly}$`));
    expect(anyReason(remoteDry)).toMatch(/, kept by no rule of RSYNC_KEEP_DAILY=\d+, RSYNC_KEEP_WEEKLY=\d+, RSYNC_KEEP_MONTHLY=\d+$/);
    for (const rules of Object.values(s3Dry.keptByRule)) for (const why of rules) expect(why).toMatch(/^S3_KEEP_MONTHLY: newest of \d{4}-\d{2}$/);
    for (const rules of Object.values(localDry.keptByRule)) for (const why of rules) expect(why).toMatch(/^KEEP_(DAILY: newest of \d{4}-\d{2}-\d{2}|WEEKLY: newest of \d{4}-W\d{2})$/);
    expect(localDry.protected.sort()).toEqual(stillNeeded.filter((f) => !local.kept.has(f)).sort());
    expect(await snapshot(localDir)).toEqual(localBefore);
    expect(await snapshot(remoteDir)).toEqual(remoteBefore);
    expect(await s3Keys()).toEqual(s3Before);

    // The real run.
    const pruned = await runCli(['prune', '--json'], env, 600_000);
    timed('prune');
    expect(pruned.code, `${pruned.stderr}\n${describeRun}`).toBe(0);
    for (const r of JSON.parse(pruned.stdout).results as Result[]) expect(r.removed.sort(), `${r.source} deleted; ${describeRun}`).toEqual(expectedGone(r.source));
    expect(pruned.stderr).toMatch(/left 20990101_000000 alone: dated in the future/);
    expect(pruned.stderr).toContain(`deleted ${localDry.removed[0]} from local:${localDir}: ${localDry.reasons[localDry.removed[0]!]}`);

    // What is left on each place: exactly the expected backups, whole, and the noise, unchanged.
    const expectLeft = (place: Place) => [...expected[place].kept].filter((f) => !missing[place].has(f)).concat(noiseNames).sort();
    const localAfter = await snapshot(localDir);
    const remoteAfter = await snapshot(remoteDir);
    expect((await readdir(localDir)).sort(), `left on local disk; ${describeRun}`).toEqual(expectLeft('local'));
    expect((await readdir(remoteDir)).sort(), `left on the remote host; ${describeRun}`).toEqual(expectLeft('remote'));
    const s3After = await s3Keys();
    expect([...new Set(s3After.map((k) => k.split('/')[0]!))].sort(), `left on S3; ${describeRun}`).toEqual(expectLeft('s3'));
    // nothing changed, and every folder that is left is left whole
    for (const [before, after] of [[localBefore, localAfter], [remoteBefore, remoteAfter]] as const) {
      for (const [path, what] of Object.entries(after)) expect(what, `${path} changed`).toBe(before[path]);
      for (const path of Object.keys(before)) if (after[path.split('/')[0]!] !== undefined) expect(after[path], `${path} is gone`).toBe(before[path]);
    }
    expect(s3After.filter((k) => noiseNames.includes(k.split('/')[0]!))).toEqual(s3Before.filter((k) => noiseNames.includes(k.split('/')[0]!)));
    for (const folder of expectLeft('s3').filter((f) => all.has(f))) expect(s3After.filter((k) => k.startsWith(`${folder}/`))).toHaveLength(4);

    // Once more, as text: nothing left to delete anywhere; each backup a rule keeps is named with its rules.
    const again = await runCli(['prune'], env, 600_000);
    timed('prune again');
    expect(again.code, again.stderr).toBe(0);
    const sections = again.stdout.split(/^(?=\S)/m);
    expect(sections.map((s) => s.split(':')[0])).toEqual(['s3', 'remote', 'local']);
    for (const [i, place] of (['s3', 'remote', 'local'] as const).entries()) {
      const section = sections[i]!;
      expect(section, `${place} deleted more; ${describeRun}`).toMatch(/^\S+: deleted 0 backup\(s\); kept \d+\n/);
      const keptLines = [...section.matchAll(/^ {2}kept (\d{8}_\d{6}) past (\w+)=\d+: (.*)$/gm)];
      expect(keptLines.map((m) => m[1]).sort(), `${place} kept by rule; ${describeRun}`).toEqual([...expected[place].byRule].filter((f) => !missing[place].has(f)).sort());
      for (const m of keptLines) expect(m[3]).toMatch(/^(\w+_)?KEEP_(DAILY|WEEKLY|MONTHLY): newest of [\dW-]+(; (\w+_)?KEEP_(DAILY|WEEKLY|MONTHLY): newest of [\dW-]+)*$/);
    }
    expect(again.stdout).toMatch(/^ {2}kept \d{8}_\d{6} past LOCAL_RETENTION_DAYS=0: KEEP_(DAILY|WEEKLY): newest of /m);
    console.log(`rotation test (seed ${seed}): ${timings.join(', ')}; kept local ${expectLeft('local').length}, s3 ${expectLeft('s3').length}, remote ${expectLeft('remote').length} of ${backups.length}`);
  });
});

describe('rotation in a backup run, and its settings', () => {
  let server: PgServer;
  let work: string;

  beforeAll(async () => {
    [server, work] = await Promise.all([startPgServer(15), makeTempDir('pgb-rotation-run-')]);
  });
  afterAll(async () => {
    await server?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('a failed run deletes nothing; a good run deletes what the days and rules do not keep, saying why', async () => {
    const dir = join(work, 'backups');
    const now = Date.now();
    const backups: Backup[] = Array.from({ length: 45 }, (_, i) => folderAt(now - (i + 1) * DAY - 2 * 3600_000)).map((folder) => ({ folder, time: timeOf(folder) }));
    for (const b of backups) await writeFolder(dir, b.folder, folderFiles(b.folder));
    await writeFile(join(dir, 'NOTES.txt'), 'not ours');
    const settings = { BACKUP_DIR: dir, LOCAL_RETENTION_DAYS: '0', KEEP_DAILY: '3', KEEP_WEEKLY: '2', LOCAL_KEEP_MONTHLY: '2' };
    const before = await snapshot(dir);

    const failed = await runCli(['backup', '--json'], baseEnv({ ...server.env(), PGPORT: String(await freePort()), ...settings }));
    expect(failed.code, failed.stderr).toBe(1);
    const afterFailure = await snapshot(dir);
    delete afterFailure['.pg-backups-state.json']; // the run history records the failure
    expect(afterFailure).toEqual(before);

    const run = await runCli(['backup', '--json'], baseEnv({ ...server.env(), ...settings }));
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as { folder: string; pruned: Array<{ source: string; folder: string }> };
    const all = [{ folder: result.folder, time: timeOf(result.folder) }, ...backups];
    const { kept } = keptBy(all, { days: 0, daily: 3, weekly: 2, monthly: 2 }, now);
    const gone = backups.filter((b) => !kept.has(b.folder)).map((b) => b.folder);
    expect(result.pruned.map((p) => `${p.source}:${p.folder}`).sort()).toEqual(gone.map((f) => `local:${f}`).sort());
    expect((await readdir(dir)).sort()).toEqual([...kept, 'NOTES.txt', '.pg-backups-state.json'].sort());
    const oldest = backups.at(-1)!.folder;
    expect(run.stderr).toContain(`deleted old backup ${oldest} from local:${dir} (45 days old, past LOCAL_RETENTION_DAYS=0, kept by no rule of KEEP_DAILY=3, KEEP_WEEKLY=2, LOCAL_KEEP_MONTHLY=2)`);
  });

  it('a bad KEEP_* value stops with exit 2 naming the variable (or flag) and a good value', async () => {
    const dir = join(work, 'empty');
    await mkdir(dir, { recursive: true });
    for (const [extra, args, message] of [
      [{ KEEP_MONTHLY: '-3' }, [], /KEEP_MONTHLY=-3 is out of range; use a number from 0 to 10000, e.g. KEEP_MONTHLY=12/],
      [{ LOCAL_KEEP_WEEKLY: 'weekly' }, [], /LOCAL_KEEP_WEEKLY="weekly" is not a whole number; use a number from 0 to 10000, e.g. LOCAL_KEEP_WEEKLY=4/],
      [{ S3_ENABLED: 'true', S3_BUCKET: 'backups', S3_KEEP_DAILY: '' }, [], /S3_KEEP_DAILY is set but empty; give a number from 0 to 10000, e.g. S3_KEEP_DAILY=7, or unset it to leave the rule off/],
      [{}, ['--local-keep-daily', '1.5'], /--local-keep-daily="1.5" is not a whole number; use a number from 0 to 10000, e.g. --local-keep-daily 7/],
    ] as const) {
      for (const command of ['prune', 'backup']) {
        const r = await runCli([command, ...args], baseEnv({ ...server.env(), BACKUP_DIR: dir, ...extra }));
        expect(r.code, `${command} ${args.join(' ')} ${JSON.stringify(extra)}: ${r.stderr}`).toBe(2);
        expect(r.stderr).toMatch(message);
      }
    }
  });
});
