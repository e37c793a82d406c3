// Small helpers shared by the benchmarks: formatting, folders, tables.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chalk } from 'zx';

/** The repository's root. */
export const root = resolve(import.meta.dirname, '..', '..');
export const log = (...a) => console.error(...a);
export const mb = (b) => b / 1e6;
export const fmt = (n, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '-');
export const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
export function dirBytes(dir) {
  let n = 0;
  if (!existsSync(dir)) return 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    n += e.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return n;
}
/** The files of a folder (recursively): relative name -> size. */
export function filesOf(dir, base = '') {
  const out = new Map();
  if (!existsSync(dir)) return out;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const rel = base ? `${base}/${e.name}` : e.name;
    if (e.isDirectory()) for (const [k, v] of filesOf(join(dir, e.name), rel)) out.set(k, v);
    else out.set(rel, statSync(join(dir, e.name)).size);
  }
  return out;
}
/** The objects s3rver holds under a folder: key (relative) -> size. */
export function s3rverObjects(dir) {
  const out = new Map();
  for (const [name, size] of filesOf(dir)) {
    const m = /^(.*)\._S3rver_object$/.exec(name);
    if (m) out.set(m[1], size);
  }
  return out;
}
export const FOLDER_RE = /^\d{8}_\d{6}$/;
export const finishedFolder = (dir) => (existsSync(dir) ? readdirSync(dir).find((n) => FOLDER_RE.test(n)) : undefined);

export function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r, ri) => {
    const line = r.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
    return ri === 0 ? chalk.bold(line) : line;
  });
}
