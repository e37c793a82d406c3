// The counts check of a drill: every table the manifest recorded rows for is counted in the scratch
// database (`SELECT count(*) FROM ONLY "schema"."table"`: the rows of that table itself, as its COPY
// data held them, not those of tables inheriting from it) and compared with the manifest.
import type pg from 'pg';
import { AbortedError } from '../errors.js';
import { qi } from '../restore/execute-admin.js';

export interface RowDifference {
  schema: string;
  table: string;
  expected: number;
  /** null: the table is not in the restored database. */
  found: number | null;
}

export async function checkRows(
  c: pg.Client,
  expected: ReadonlyArray<{ schema: string; table: string; rows: number }>,
  signal: AbortSignal,
): Promise<{ checked: number; differences: RowDifference[] }> {
  const differences: RowDifference[] = [];
  let checked = 0;
  for (const t of expected) {
    if (signal.aborted) throw new AbortedError('the drill was stopped while it counted rows');
    let found: number | null;
    try {
      const r = await c.query<{ n: string }>(`SELECT count(*) AS n FROM ONLY ${qi(t.schema)}.${qi(t.table)}`);
      found = Number(r.rows[0]!.n);
    } catch (err) {
      // 42P01: no such table; 3F000: no such schema.
      const code = (err as { code?: string }).code;
      if (code !== '42P01' && code !== '3F000') throw err;
      found = null;
    }
    checked++;
    if (found !== t.rows) differences.push({ schema: t.schema, table: t.table, expected: t.rows, found });
  }
  return { checked, differences };
}
