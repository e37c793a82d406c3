// A generated test of local retention: random sets of backup folders (whole, dated in the future or
// within clock skew, incomplete, legacy, damaged manifests, symbolic links out of BACKUP_DIR, foreign
// files) and random retention settings, pruned on a real filesystem. After every prune:
// - the newest whole backup that is not in the future is there, unchanged;
// - the folder a run has "just written" (keep) is there, unchanged;
// - nothing outside BACKUP_DIR changed;
// - every path that went was the manifest or a file named by the manifest of a whole, expired
//   backup (or its folder, once empty); every such backup went (retention does its work).
// The seed is printed with every failure; PGB_RETENTION_SEED=<n> replays a run.
import { describe, expect, it } from 'vitest';
import { randomInt } from 'node:crypto';
import { appendFile, mkdir, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { folderTime } from '../src/core/backup/names.js';
import { pruneSource } from '../src/core/prune.js';
import { LocalSource } from '../src/sources/local.js';
import { folderAt, folderFiles, writeFolder } from './helpers/fake-backup.js';
import { makeTempDir } from './helpers/tmp.js';
import { snapshot } from './helpers/tree.js';
import { prng } from './helpers/fixture-sql.js';

const DAY = 24 * 3600 * 1000;
const SKEW = 15 * 60 * 1000;
const ITERATIONS = 150;

type Kind =
  | 'whole'
  | 'whole+foreign-file'
  | 'missing-file'
  | 'wrong-size'
  | 'linked-file'
  | 'legacy'
  | 'damaged-json'
  | 'damaged-field'
  | 'wrong-folder'
  | 'linked-folder'
  | 'linked-manifest';
const KINDS: Kind[] = ['whole', 'whole', 'whole', 'whole+foreign-file', 'missing-file', 'wrong-size', 'linked-file', 'legacy', 'damaged-json', 'damaged-field', 'wrong-folder', 'linked-folder', 'linked-manifest'];
const WHOLE: Kind[] = ['whole', 'whole+foreign-file'];


interface Planned {
  folder: string;
  kind: Kind;
  time: number;
}

describe('local retention, generated', () => {
  const seed = process.env.PGB_RETENTION_SEED ? Number(process.env.PGB_RETENTION_SEED) : randomInt(2 ** 31);

  it(`keeps what it promises over ${ITERATIONS} random BACKUP_DIRs (seed ${seed})`, async () => {
    const rand = prng(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
    const root = await makeTempDir('pgb-retention-gen-');
    try {
      for (let iteration = 0; iteration < ITERATIONS; iteration++) {
        const now = Date.now();
        const dir = join(root, `run-${iteration}`, 'backups');
        const outside = join(root, `run-${iteration}`, 'outside');
        await mkdir(dir, { recursive: true });
        await mkdir(outside, { recursive: true });

        // The folders: times in the past (up to 40 days), within clock skew, or far in the future.
        const planned: Planned[] = [];
        const count = 2 + Math.floor(rand() * 11);
        for (let i = 0; i < count; i++) {
          const r = rand();
          const offset = r < 0.7 ? -rand() * 40 * DAY : r < 0.8 ? rand() * SKEW * 0.9 : r < 0.9 ? SKEW * 2 + rand() * 365 * DAY : rand() * 80 * 365 * DAY;
          const folder = folderAt(now + offset);
          if (planned.some((p) => p.folder === folder)) continue;
          planned.push({ folder, kind: pick(KINDS), time: folderTime(folder)!.getTime() });
        }
        for (const p of planned) await makeFolder(dir, outside, p);
        // Files and folders of others beside the backups.
        await writeFile(join(dir, 'README.txt'), 'not ours');
        await mkdir(join(dir, 'other-tool'));
        await writeFile(join(dir, 'other-tool', '20200101_000000'), 'not ours either');
        await symlink(outside, join(dir, 'outside-link'));

        const retentionDays = pick([0, 0, 1, 2, 7, 30]);
        const wholePresent = planned.filter((p) => WHOLE.includes(p.kind) && p.time <= now + SKEW);
        const keep = wholePresent.length > 0 && rand() < 0.3 ? [pick(wholePresent).folder] : [];
        const describe = `seed ${seed}, iteration ${iteration}: retention ${retentionDays} days, keep [${keep.join(', ')}], now ${new Date(now).toISOString()}, folders:\n  ${planned
          .map((p) => `${p.folder} ${p.kind}`)
          .join('\n  ')}`;

        // What the model says must happen.
        const newest = [...wholePresent].sort((a, b) => b.time - a.time)[0];
        const cutoff = now - retentionDays * DAY;
        const mustGo = new Set(wholePresent.filter((p) => p !== newest && !keep.includes(p.folder) && p.time < cutoff).map((p) => p.folder));

        const outsideBefore = await snapshot(outside);
        const before = await snapshot(dir);
        const result = await pruneSource(new LocalSource(dir), retentionDays, { now: new Date(now), keep });
        const after = await snapshot(dir);

        expect(await snapshot(outside), `outside BACKUP_DIR changed; ${describe}`).toEqual(outsideBefore);
        expect(result.removed.map((e) => e.folder).sort(), `removed; ${describe}`).toEqual([...mustGo].sort());
        for (const [path, what] of Object.entries(before)) {
          const folder = path.split('/')[0]!;
          if (after[path] !== undefined) {
            expect(after[path], `${path} changed; ${describe}`).toBe(what);
            continue;
          }
          // Gone: only the manifest, a manifest-named file, or the emptied folder of a backup that must go.
          expect(mustGo.has(folder), `${path} was deleted; ${describe}`).toBe(true);
          const name = path.slice(folder.length + 1);
          const ours = name === '' || name === 'manifest.json' || /^postgres_(cluster|globals|db_.+)\.sql\.gz$/.test(name);
          expect(ours, `${path} (not pg-backups') was deleted; ${describe}`).toBe(true);
        }
        for (const folder of mustGo) expect(after[`${folder}/manifest.json`], `${folder} should be gone; ${describe}`).toBeUndefined();
        if (newest) expect(after[`${newest.folder}/manifest.json`], `the newest whole backup ${newest.folder} is gone; ${describe}`).toBe(before[`${newest.folder}/manifest.json`]);
        for (const folder of keep) expect(after[`${folder}/manifest.json`], `kept ${folder} is gone; ${describe}`).toBeDefined();
        await rm(join(root, `run-${iteration}`), { recursive: true, force: true });
      }
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

/** Writes one planned folder (links point into `outside`, which holds their targets). */
async function makeFolder(dir: string, outside: string, p: Planned): Promise<void> {
  const files = folderFiles(p.folder, ['app', 'sales data']);
  const path = join(dir, p.folder);
  switch (p.kind) {
    case 'whole':
      await writeFolder(dir, p.folder, files);
      break;
    case 'whole+foreign-file':
      await writeFolder(dir, p.folder, { ...files, 'operator-notes.txt': 'keep me' });
      break;
    case 'missing-file':
      await writeFolder(dir, p.folder, files);
      await unlink(join(path, 'postgres_globals.sql.gz'));
      break;
    case 'wrong-size':
      await writeFolder(dir, p.folder, files);
      await appendFile(join(path, 'postgres_db_app.sql.gz'), 'x');
      break;
    case 'linked-file':
      await writeFolder(dir, p.folder, files);
      await writeFile(join(outside, `${p.folder}-app.sql.gz`), files['postgres_db_app.sql.gz']!);
      await unlink(join(path, 'postgres_db_app.sql.gz'));
      await symlink(join(outside, `${p.folder}-app.sql.gz`), join(path, 'postgres_db_app.sql.gz'));
      break;
    case 'legacy': {
      const { 'manifest.json': _m, ...rest } = files;
      await writeFolder(dir, p.folder, rest);
      break;
    }
    case 'damaged-json':
      await writeFolder(dir, p.folder, { ...files, 'manifest.json': '{"format": "pg-backups/1",' });
      break;
    case 'damaged-field':
      await writeFolder(dir, p.folder, folderFiles(p.folder, ['app'], (m) => ({ ...m, databases: null })));
      break;
    case 'wrong-folder':
      await writeFolder(dir, p.folder, folderFiles(p.folder, ['app'], (m) => ({ ...m, folder: '20000101_000000' })));
      break;
    case 'linked-folder':
      await writeFolder(outside, p.folder, files);
      await symlink(join(outside, p.folder), path);
      break;
    case 'linked-manifest': {
      const { 'manifest.json': manifest, ...rest } = files;
      await writeFolder(dir, p.folder, rest);
      await writeFile(join(outside, `${p.folder}-manifest.json`), manifest!);
      await symlink(join(outside, `${p.folder}-manifest.json`), join(path, 'manifest.json'));
      break;
    }
  }
}
