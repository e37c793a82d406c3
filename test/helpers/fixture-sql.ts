// Shared by the fixture builders: running a fixture script with a failure that names the fixture,
// the server, the database and the failing line; and a small seeded PRNG for generated tests.
import type { PgServer } from './pg-server.js';

export async function runFixtureSql(fixture: string, server: PgServer, sql: string, db = 'postgres'): Promise<void> {
  try {
    await server.query(sql, db);
  } catch (e) {
    const err = e as Error & { position?: string };
    let where = '';
    if (err.position) {
      const line = sql.slice(0, Number(err.position)).split('\n').length;
      where = ` at script line ${line}: ${JSON.stringify(sql.split('\n')[line - 1]?.trim().slice(0, 200))}`;
    }
    throw new Error(`${fixture} (PostgreSQL ${server.version}, database ${JSON.stringify(db)}): ${err.message}${where}`);
  }
}

/** mulberry32: a small seeded PRNG giving numbers in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
