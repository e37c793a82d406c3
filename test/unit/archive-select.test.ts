// Pure tests of the selective-restore logic (src/core/restore/archive-select.ts): parsing of
// RESTORE_TABLES / RESTORE_SCHEMAS values, and selectEntries / archiveTables / listFileText on
// hand-built TOCs shaped like what pg_dump 13 and 18 write (dump ids, dependencies and tags copied
// from real archives). The real-archive counterpart is test/archive-toc.test.ts.
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import type { ArchiveToc, TocEntry } from '../../src/core/restore/archive-toc.js';
import { archiveTables, listFileText, parseSchemaList, parseTableList, quoteName, selectEntries } from '../../src/core/restore/archive-select.js';

function usageError(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return e as UsageError;
  }
  throw new Error('expected a UsageError');
}

describe('parseTableList', () => {
  it('reads schema.table, bare tables (public), quoted names and folds unquoted names to lower case', () => {
    expect(parseTableList(' sales.orders, customers ,"My Schema"."Order Lines",Sales.Big_Orders', 'RESTORE_TABLES')).toEqual([
      { schema: 'sales', name: 'orders' },
      { schema: 'public', name: 'customers' },
      { schema: 'My Schema', name: 'Order Lines' },
      { schema: 'sales', name: 'big_orders' },
    ]);
  });

  it('takes quoted names as they are: dots, commas, doubled quotes, newlines, unicode, keywords', () => {
    expect(parseTableList('"a""b"."t,1", "x.y" . "z\nw", "é🐘"."select", "T"', 'RESTORE_TABLES')).toEqual([
      { schema: 'a"b', name: 't,1' },
      { schema: 'x.y', name: 'z\nw' },
      { schema: 'é🐘', name: 'select' },
      { schema: 'public', name: 'T' },
    ]);
    expect(parseTableList('"""".""""""', 'X')).toEqual([{ schema: '"', name: '""' }]);
  });

  it('gives an empty list for a blank value', () => {
    expect(parseTableList('', 'RESTORE_TABLES')).toEqual([]);
    expect(parseTableList('  \n ', 'RESTORE_TABLES')).toEqual([]);
  });

  it.each([
    ['a,,b', 'an empty name', 3],
    ['a,', 'a missing name at the end', 3],
    [',a', 'an empty name', 1],
    ['"abc', 'never closed', 1],
    ['s.""', 'an empty quoted name', 3],
    ['a.b.c', 'more than two dot-separated parts', 4],
    ['my table', 'unexpected "t" after a name', 4],
    ['"a"b', 'unexpected "b" after a name', 4],
    ['.a', 'a missing name before "."', 1],
    ['a."b\nc', 'never closed', 3],
  ])('refuses %j: %s', (text, what, at) => {
    const err = usageError(() => parseTableList(text, 'RESTORE_TABLES'));
    expect(err.message).toContain('RESTORE_TABLES: ');
    expect(err.message).toContain(what);
    expect(err.message).toContain(`at character ${at}`);
    expect(err.message).toContain('e.g. RESTORE_TABLES=sales.orders,customers,"My Schema"."Order Lines"');
    expect(err.message).not.toMatch(/[\r\n]/);
  });
});

describe('parseSchemaList', () => {
  it('reads bare and quoted schema names', () => {
    expect(parseSchemaList('sales, "My Schema" ,"a.b,c""d",Public', 'RESTORE_SCHEMAS')).toEqual(['sales', 'My Schema', 'a.b,c"d', 'public']);
  });

  it('refuses a dotted name with the setting, the problem and an example', () => {
    const err = usageError(() => parseSchemaList('sales.orders', 'RESTORE_SCHEMAS'));
    expect(err.message).toMatch(/^RESTORE_SCHEMAS: a dot in a schema name \(quote a name that holds a dot\) at character 6; .* e\.g\. RESTORE_SCHEMAS=sales,"My Schema"$/);
  });
});

describe('quoteName', () => {
  it('leaves simple lower-case names bare and quotes the rest so that they read back the same', () => {
    for (const name of ['sales', 'a_1', 'Sales', 'my table', 'a"b', 'x.y', 'é', '1a', 'a,b', 'ta\nble']) {
      const written = quoteName(name);
      expect(parseSchemaList(written, 'X')).toEqual([name]);
    }
    expect(quoteName('sales')).toBe('sales');
    expect(quoteName('My "S"')).toBe('"My ""S"""');
  });
});

let nextOid = 16000;
function e(dumpId: number, desc: string, namespace: string | null, tag: string, deps: number[] = [], extra: Partial<TocEntry> = {}): TocEntry {
  const section = desc === 'TABLE DATA' || desc === 'SEQUENCE SET' ? 'data' : /CONSTRAINT|INDEX|TRIGGER|POLICY|RULE|ATTACH/.test(desc) ? 'post-data' : /COMMENT|ACL/.test(desc) ? 'none' : 'pre-data';
  return { dumpId, hadDumper: desc === 'TABLE DATA', tableOid: '0', oid: String(nextOid++), tag, desc, section, namespace, tablespace: null, owner: 'postgres', deps, ...extra };
}
function toc(entries: TocEntry[]): ArchiveToc {
  return { version: '1.16', dbname: 'd1', serverVersion: '18.4', pgDumpVersion: '18.6', compression: 'gzip', entries };
}

/** What pg_dump 18 wrote for: "My Schema".t (serial id, identity n, index on v), public.p (FK to t), a view on p, a comment and a grant on p. */
const PG18 = toc([
  e(3311, 'ENCODING', null, 'ENCODING'),
  e(3312, 'STDSTRINGS', null, 'STDSTRINGS'),
  e(3313, 'SEARCHPATH', null, 'SEARCHPATH'),
  e(3314, 'DATABASE', null, 'd1', [], { defn: 'CREATE DATABASE d1;\n' }),
  e(3320, 'COMMENT', null, 'DATABASE d1', [3314]),
  e(3321, 'ACL', null, 'DATABASE d1', [3314]),
  e(6, 'SCHEMA', null, 'My Schema'),
  e(3322, 'COMMENT', null, 'SCHEMA "My Schema"', [6]),
  e(222, 'TABLE', 'My Schema', 't', [6]),
  e(220, 'SEQUENCE', 'My Schema', 't_id_seq', [222, 6]),
  e(3315, 'SEQUENCE OWNED BY', 'My Schema', 't_id_seq', [220]),
  e(221, 'SEQUENCE', 'My Schema', 't_n_seq', [222, 6]),
  e(223, 'TABLE', 'public', 'p'),
  e(3316, 'COMMENT', 'public', 'TABLE p', [223]),
  e(3317, 'ACL', 'public', 'TABLE p', [223]),
  e(224, 'VIEW', 'public', 'vw', [223, 223]),
  e(3150, 'DEFAULT', 'My Schema', 't id', [222, 220, 222]),
  e(3307, 'TABLE DATA', 'My Schema', 't', [222]),
  e(3308, 'TABLE DATA', 'public', 'p', [223]),
  e(3318, 'SEQUENCE SET', 'My Schema', 't_id_seq', [220]),
  e(3319, 'SEQUENCE SET', 'My Schema', 't_n_seq', [221]),
  e(3152, 'CONSTRAINT', 'My Schema', 't t_pkey', [222]),
  e(3155, 'CONSTRAINT', 'public', 'p p_pkey', [223]),
  e(3153, 'INDEX', 'My Schema', 't_v_idx', [222]),
  e(3156, 'FK CONSTRAINT', 'public', 'p p_tid_fkey', [222, 3152, 223]),
]);

describe('selectEntries', () => {
  it('one table in a schema: its schema, table, data, sequences (serial and identity), default, constraints, index; in TOC order', () => {
    const r = selectEntries(PG18, { schemas: [], tables: [{ schema: 'My Schema', name: 't' }] });
    expect(r).toEqual({ ids: [6, 3322, 222, 220, 3315, 221, 3150, 3307, 3318, 3319, 3152, 3153], missing: [] });
  });

  it('leaves out an FK whose referenced table is not selected, keeps comments and ACLs, never takes public or views along', () => {
    const r = selectEntries(PG18, { schemas: [], tables: [{ schema: 'public', name: 'p' }] });
    expect(r.ids).toEqual([223, 3316, 3317, 3308, 3155]);
  });

  it('keeps the FK when both tables are selected', () => {
    const r = selectEntries(PG18, { schemas: [], tables: [{ schema: 'public', name: 'p' }, { schema: 'My Schema', name: 't' }] });
    expect(r.ids).toContain(3156);
    expect(r.ids).not.toContain(224);
  });

  it('a schema brings everything in it (and its comment), nothing of other schemas', () => {
    const r = selectEntries(PG18, { schemas: ['My Schema'], tables: [] });
    expect(r.ids).toEqual([6, 3322, 222, 220, 3315, 221, 3150, 3307, 3318, 3319, 3152, 3153]);
    const pub = selectEntries(PG18, { schemas: ['public'], tables: [] });
    expect(pub.ids).toEqual([223, 3316, 3317, 224, 3308, 3155]);
  });

  it('database-level entries only with withDatabase; ENCODING and friends never', () => {
    const sel = { schemas: [], tables: [{ schema: 'public', name: 'p' }] };
    expect(selectEntries(PG18, sel).ids).not.toContain(3314);
    const r = selectEntries(PG18, sel, { withDatabase: true });
    expect(r.ids).toEqual([3314, 3320, 3321, 223, 3316, 3317, 3308, 3155]);
    expect(selectEntries(PG18, { schemas: ['My Schema', 'public'], tables: [] }, { withDatabase: true }).ids).not.toContain(3311);
  });

  it('reports what the archive does not have, quoted as in RESTORE_TABLES', () => {
    const r = selectEntries(PG18, { schemas: ['nope', 'My schema'], tables: [{ schema: 'public', name: 'T' }, { schema: 'a.b', name: 'c' }, { schema: 'public', name: 'p' }] });
    expect(r.missing).toEqual(['nope', '"My schema"', 'public."T"', '"a.b".c']);
    expect(r.ids).toEqual([223, 3316, 3317, 3308, 3155]);
  });

  it('pg_dump 13 partitions (the child TABLE depends on its parent): a chosen parent brings its partitions and INDEX ATTACH', () => {
    const t = toc([
      e(206, 'TABLE', 'public', 'p'),
      e(207, 'TABLE', 'public', 'p1', [206]),
      e(2951, 'TABLE DATA', 'public', 'p1', [207]),
      e(2812, 'CONSTRAINT', 'public', 'p p_pkey', [206]),
      e(2814, 'CONSTRAINT', 'public', 'p1 p1_pkey', [2812, 207, 207]),
      e(2815, 'INDEX ATTACH', 'public', 'p1_pkey', [207, 2812, 2814, 2812, 207, 206]),
    ]);
    expect(selectEntries(t, { schemas: [], tables: [{ schema: 'public', name: 'p' }] }).ids).toEqual([206, 207, 2951, 2812, 2814, 2815]);
    // A partition alone: restored as a plain table, nothing of the parent.
    expect(selectEntries(t, { schemas: [], tables: [{ schema: 'public', name: 'p1' }] }).ids).toEqual([207, 2951]);
  });

  it('partitions in another schema attached with TABLE ATTACH (pg_dump 14+) come with their schema', () => {
    const t = toc([
      e(5, 'SCHEMA', null, 'parts'),
      e(10, 'TABLE', 'public', 'ev'),
      e(11, 'TABLE', 'parts', 'ev_2020', [10, 5]),
      e(12, 'TABLE ATTACH', 'parts', 'ev_2020', [10, 11]),
      e(13, 'TABLE DATA', 'parts', 'ev_2020', [11]),
    ]);
    expect(selectEntries(t, { schemas: [], tables: [{ schema: 'public', name: 'ev' }] }).ids).toEqual([5, 10, 11, 12, 13]);
    // A chosen schema does not pull tables of other schemas.
    expect(selectEntries(t, { schemas: ['parts'], tables: [] }).ids).toEqual([5, 11, 13]);
  });

  it('a shared sequence used by a DEFAULT comes along (without the OWNED BY of its unselected owner)', () => {
    const t = toc([
      e(1, 'TABLE', 'public', 'owner_t'),
      e(2, 'SEQUENCE', 'public', 'shared_seq', [1]),
      e(3, 'SEQUENCE OWNED BY', 'public', 'shared_seq', [2]),
      e(4, 'TABLE', 'public', 'user_t'),
      e(5, 'DEFAULT', 'public', 'user_t id', [4, 2]),
      e(6, 'TABLE DATA', 'public', 'user_t', [4]),
      e(7, 'SEQUENCE SET', 'public', 'shared_seq', [2]),
      e(8, 'TABLE DATA', 'public', 'owner_t', [1]),
    ]);
    expect(selectEntries(t, { schemas: [], tables: [{ schema: 'public', name: 'user_t' }] }).ids).toEqual([2, 4, 5, 6, 7]);
    expect(selectEntries(t, { schemas: [], tables: [{ schema: 'public', name: 'owner_t' }] }).ids).toEqual([1, 2, 3, 7, 8]);
  });

  it('brings the functions and types a table needs (with their schema and comments), never other relations; column ACLs follow the table ACL', () => {
    const t = toc([
      e(1, 'SCHEMA', null, 'app'),
      e(2, 'SCHEMA', null, 'lib'),
      e(3, 'FUNCTION', 'lib', 'trg()', [2]),
      e(4, 'TYPE', 'lib', 'mood', [2]),
      e(5, 'TABLE', 'app', 't', [1, 4]),
      e(6, 'TABLE', 'app', 'other', [1]),
      e(7, 'TRIGGER', 'app', 't trg', [5, 3]),
      e(8, 'VIEW', 'app', 'v', [5, 6]),
      e(9, 'ACL', 'app', 'TABLE t', [5]),
      e(10, 'ACL', 'app', 'COLUMN t.c', [5, 9]),
      e(11, 'POLICY', 'app', 't p', [5]),
      e(12, 'ROW SECURITY', 'app', 't', [5]),
      e(13, 'COMMENT', 'lib', 'FUNCTION trg()', [3]),
      e(14, 'INDEX', 'app', 'other_idx', [6]),
      e(15, 'CHECK CONSTRAINT', 'app', 't t_check', [5, 6]),
      e(16, 'STATISTICS DATA', 'app', 't', [5]),
      e(17, 'RULE', 'app', 't r', [5]),
      e(18, 'MATERIALIZED VIEW', 'app', 'mv', [5]),
      e(19, 'MATERIALIZED VIEW DATA', 'app', 'mv', [18, 5]),
    ]);
    const r = selectEntries(t, { schemas: [], tables: [{ schema: 'app', name: 't' }] });
    expect(r.ids).toEqual([1, 2, 3, 4, 5, 7, 9, 10, 11, 12, 13, 16, 17]);
    // A chosen materialized view brings its data; a schema brings its views and their data.
    expect(selectEntries(t, { schemas: [], tables: [{ schema: 'app', name: 'mv' }] }).ids).toEqual([1, 18, 19]);
    expect(selectEntries(t, { schemas: ['app'], tables: [] }).ids).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
  });

  it('schema public in a pg_dump 13 archive: its COMMENT and ACL are found by tag (there is no SCHEMA entry)', () => {
    const t = toc([
      e(2954, 'COMMENT', null, 'SCHEMA public', [3]),
      e(2955, 'ACL', null, 'SCHEMA public', [3]),
      e(2956, 'COMMENT', null, 'SCHEMA "select"', [4]),
      e(4, 'SCHEMA', null, 'select'),
      e(205, 'TABLE', 'public', 'x'),
    ]);
    expect(selectEntries(t, { schemas: ['public'], tables: [] })).toEqual({ ids: [2954, 2955, 205], missing: [] });
    expect(selectEntries(t, { schemas: ['select'], tables: [] }).ids).toEqual([2956, 4]);
  });

  it('hostile names match exactly, never by a flattened or folded form', () => {
    const t = toc([
      e(1, 'SCHEMA', null, 'sch\nema "q".x,y'),
      e(2, 'TABLE', 'sch\nema "q".x,y', 'ta ble\n"x".y,z', [1]),
      e(3, 'SCHEMA', null, 'sch ema "q".x,y'),
      e(4, 'TABLE', 'sch ema "q".x,y', 'ta ble "x".y,z', [3]),
    ]);
    const [table] = parseTableList('"sch\nema ""q"".x,y"."ta ble\n""x"".y,z"', 'RESTORE_TABLES');
    expect(selectEntries(t, { schemas: [], tables: [table!] }).ids).toEqual([1, 2]);
    expect(selectEntries(t, { schemas: ['sch ema "q".x,y'], tables: [] }).ids).toEqual([3, 4]);
  });
});

describe('listFileText', () => {
  it('writes one id per line and nothing else', () => {
    expect(listFileText([6, 222, 3150])).toBe('6;\n222;\n3150;\n');
    expect(listFileText([])).toBe('');
    expect(() => listFileText([0])).toThrow(RangeError);
  });
});

describe('archiveTables', () => {
  it('lists tables, views and materialized views sorted by schema then name, with whether they have data', () => {
    expect(archiveTables(PG18)).toEqual([
      { schema: 'My Schema', name: 't', kind: 'TABLE', hasData: true },
      { schema: 'public', name: 'p', kind: 'TABLE', hasData: true },
      { schema: 'public', name: 'vw', kind: 'VIEW', hasData: false },
    ]);
  });
});
