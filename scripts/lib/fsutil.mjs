// Small filesystem helpers for scripts/provision.mjs: atomic writes, safe tree removal, device nodes.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** Quote a string for /bin/sh. */
export function shQuote(s) {
  return `'${String(s).replaceAll("'", `'\\''`)}'`;
}

/** Write a file only when its content differs; atomic (temp file + rename). Returns true when written. */
export function writeFileIfChanged(file, content, mode = 0o644) {
  try {
    const st = fs.statSync(file);
    if (st.isFile() && fs.readFileSync(file, 'utf8') === content && (st.mode & 0o7777) === mode) return false;
  } catch {
    // missing: write it
  }
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, content, { mode });
  fs.chmodSync(tmp, mode);
  fs.renameSync(tmp, file);
  return true;
}

/** Make `link` a symlink to `target`; atomic (temp link + rename). Returns true when changed. */
export function symlinkIfChanged(target, link) {
  try {
    if (fs.readlinkSync(link) === target) return false;
  } catch {
    // missing or not a symlink: (re)create it
  }
  const tmp = `${link}.tmp-${process.pid}`;
  fs.rmSync(tmp, { force: true });
  fs.symlinkSync(target, tmp);
  fs.renameSync(tmp, link);
  return true;
}

/** Mount points at or below `dir` (deepest first), from /proc/self/mountinfo. */
export function mountsUnder(dir) {
  const abs = path.resolve(dir);
  let text = '';
  try {
    text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const unescape = (s) => s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => unescape(line.split(' ')[4]))
    .filter((mp) => mp === abs || mp.startsWith(`${abs}/`))
    .sort((a, b) => b.length - a.length);
}

/**
 * Remove a directory tree that may be a half-built rootfs. An interrupted debootstrap can leave
 * /proc, /sys or bind mounts inside it: unmount those first and never cross into another filesystem.
 */
export function removeTree(dir) {
  if (!fs.existsSync(dir)) return;
  for (const mp of mountsUnder(dir)) spawnSync('umount', ['-l', mp], { stdio: 'ignore' });
  const left = mountsUnder(dir);
  if (left.length) throw new Error(`cannot remove ${dir}: still mounted: ${left.join(', ')}`);
  const r = spawnSync('rm', ['-rf', '--one-file-system', '--', dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cannot remove ${dir}: ${(r.stderr || '').trim() || `rm exited ${r.status}`}`);
}

/** Character devices the client tools (and apt/dpkg maintainer scripts) expect in a chroot. */
export const CHROOT_DEVICES = [
  { name: 'null', major: 1, minor: 3 },
  { name: 'zero', major: 1, minor: 5 },
  { name: 'full', major: 1, minor: 7 },
  { name: 'random', major: 1, minor: 8 },
  { name: 'urandom', major: 1, minor: 9 },
  { name: 'tty', major: 5, minor: 0 },
];

const devMajor = (rdev) => Number((BigInt(rdev) >> 8n) & 0xfffn) | Number((BigInt(rdev) >> 32n) & ~0xfffn);
const devMinor = (rdev) => Number(BigInt(rdev) & 0xffn) | Number((BigInt(rdev) >> 12n) & ~0xffn);

/** Names of devices in root/dev that are missing or wrong (not the right char device, or not mode 0666). */
export function badDevices(root) {
  const bad = [];
  for (const d of CHROOT_DEVICES) {
    let st;
    try {
      st = fs.lstatSync(path.join(root, 'dev', d.name));
    } catch {
      bad.push(d.name);
      continue;
    }
    if (!st.isCharacterDevice() || devMajor(st.rdev) !== d.major || devMinor(st.rdev) !== d.minor || (st.mode & 0o777) !== 0o666) {
      bad.push(d.name);
    }
  }
  return bad;
}

/**
 * Make root/dev/{null,zero,full,random,urandom,tty} real device nodes (mknod, once; they persist
 * across reboots, unlike mounts). A stray regular file (e.g. a `>/dev/null` redirect that ran while
 * the node was missing) is replaced. Returns the names that were (re)created.
 */
export function ensureDevices(root) {
  const bad = badDevices(root);
  if (!bad.length) return [];
  const devDir = path.join(root, 'dev');
  fs.mkdirSync(devDir, { recursive: true, mode: 0o755 });
  const mounted = new Set(mountsUnder(devDir));
  for (const name of bad) {
    const d = CHROOT_DEVICES.find((x) => x.name === name);
    const p = path.join(devDir, name);
    if (mounted.has(p)) throw new Error(`${p} is a mount point; unmount it first`);
    fs.rmSync(p, { force: true, recursive: true });
    const r = spawnSync('mknod', ['-m', '666', p, 'c', String(d.major), String(d.minor)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`mknod ${p} failed: ${(r.stderr || '').trim() || `exit ${r.status}`}`);
  }
  const still = badDevices(root);
  if (still.length) throw new Error(`device nodes still wrong in ${devDir}: ${still.join(', ')}`);
  return bad;
}
