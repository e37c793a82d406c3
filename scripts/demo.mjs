#!/usr/bin/env zx
// The demo: starts an embedded PostgreSQL of the local pg_dump's major with a small sample
// database and runs `pg-backups backup` of it into ./demo-backups, then lists, verifies and drills it.
// In a terminal it ends in the full-screen UI, pointed at the demo server and its backups, so that
// the demo database can be restored under a new name with a few keys; elsewhere (CI, a pipe) it
// ends after the drill. Nothing to set up: `npm install && npm run demo`.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { $, chalk } from 'zx';

$.verbose = false;
const root = resolve(import.meta.dirname, '..');
const MAJORS = [13, 15, 17, 18];

const versionText = (await $`pg_dump --version`.nothrow()).stdout;
const localMajor = Number(/\(PostgreSQL\)\s+(\d+)/.exec(versionText)?.[1]);
if (!localMajor) {
  console.error('pg_dump was not found on PATH; install the PostgreSQL client tools (Debian: apt-get install postgresql-client)');
  process.exit(1);
}
const major = MAJORS.filter((m) => m <= localMajor).pop();
if (!major) {
  console.error(`pg_dump ${localMajor} is older than every embedded server (${MAJORS.join(', ')}); install a newer postgresql-client`);
  process.exit(1);
}
const { default: EmbeddedPostgres } = await import(`epg${major}`);

const dir = mkdtempSync(join(tmpdir(), 'pg-backups-demo-'));
chmodSync(dir, 0o1777); // the server runs as the OS user postgres when we are root
const port = await freePort();
const password = randomBytes(12).toString('hex');
const server = new EmbeddedPostgres({
  databaseDir: join(dir, 'data'),
  user: 'postgres',
  password,
  port,
  persistent: false,
  createPostgresUser: process.getuid?.() === 0,
  initdbFlags: ['--encoding=UTF8', '--locale=C', '--lc-messages=C'],
  postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${dir}`],
  onLog: () => {},
});

const env = {
  ...process.env,
  PGHOST: '127.0.0.1',
  PGPORT: String(port),
  PGUSER: 'postgres',
  PGPASSWORD: password,
  BACKUP_DIR: join(root, 'demo-backups'),
  RESTORE_DIR: join(root, 'demo-restore'),
};
// The screen opens for a person at a terminal only (as pg-backups itself decides).
const interactive = process.stdin.isTTY && process.stdout.isTTY && process.env.TERM !== 'dumb' && !process.env.CI && !process.env.CONTINUOUS_INTEGRATION;
let code = 0;
try {
  console.error(chalk.bold(`starting an embedded PostgreSQL ${major} on 127.0.0.1:${port} (local pg_dump is ${localMajor})`));
  await server.initialise();
  await server.start();
  await server.createDatabase('shop');
  const client = server.getPgClient('shop', '127.0.0.1');
  await client.connect();
  await client.query(`
    CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, email text UNIQUE, joined timestamptz DEFAULT now());
    CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int REFERENCES customers, total numeric(10,2), items jsonb);
    INSERT INTO customers (name, email) SELECT 'customer ' || g, 'c' || g || '@example.com' FROM generate_series(1, 1000) g;
    INSERT INTO orders (customer_id, total, items)
      SELECT 1 + g % 1000, round((random() * 500)::numeric, 2), jsonb_build_object('sku', 'SKU-' || g, 'qty', 1 + g % 5)
      FROM generate_series(1, 5000) g;
    CREATE VIEW big_spenders AS SELECT customer_id, sum(total) FROM orders GROUP BY 1 HAVING sum(total) > 1000;`);
  await client.end();

  const cli = join(root, 'bin', 'pg-backups.cjs');
  console.error(chalk.bold('\n$ pg-backups backup'));
  await $({ env, stdio: 'inherit' })`node ${cli} backup`;
  console.error(chalk.bold('\n$ pg-backups list'));
  await $({ env, stdio: 'inherit' })`node ${cli} list`;
  console.error(chalk.bold('\n$ pg-backups verify latest'));
  await $({ env, stdio: 'inherit' })`node ${cli} verify latest`;
  console.error(chalk.bold('\n$ pg-backups drill   (restores each database into a scratch database, checks every row count, drops it)'));
  await $({ env, stdio: 'inherit' })`node ${cli} drill`;
  console.error(chalk.green(`\nThe backup is in ${env.BACKUP_DIR}; each file restores with: gunzip -c FILE | psql`));
  if (interactive) {
    console.error(chalk.bold('\n$ pg-backups   (the full-screen UI; the demo server stops when you leave it with q)'));
    console.error('To restore the demo database "shop" under a new name: Enter (the backup), Enter (restore one');
    console.error('database), pick "shop", n (shop_restored), Enter (the plan), Enter (go). ? shows every key.');
    await new Promise((r) => setTimeout(r, 2500));
    const ui = await $({ env, stdio: 'inherit', nothrow: true })`node ${cli}`;
    code = ui.exitCode ?? 1;
  }
} catch (err) {
  console.error(chalk.red(`demo failed: ${err.message ?? err}`));
  code = 1;
} finally {
  await server.stop().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
}
process.exit(code);

function freePort() {
  return new Promise((resolveP, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port: p } = s.address();
      s.close(() => resolveP(p));
    });
  });
}
