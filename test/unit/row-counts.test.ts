// The row counter on its own: every chunk boundary, COPY look-alikes outside COPY statements.
import { describe, expect, it } from 'vitest';
import { RowCounter, copyTarget, dumpEncoding } from '../../src/core/backup/row-counts.js';
import { CopyLineCounter, archiveRowCounter } from '../../src/core/backup/archive-rows.js';
import { manifestProblem } from '../../src/core/backup/manifest.js';
import { folderFiles } from '../helpers/fake-backup.js';

const DUMP = [
  'SET client_encoding = \'UTF8\';',
  'CREATE FUNCTION public.f() RETURNS void LANGUAGE plpgsql AS $_$',
  'COPY fake (a) FROM stdin;',
  '1',
  '\\.',
  '$_$;',
  "COMMENT ON TABLE public.t IS '",
  'COPY public.t (a) FROM stdin;',
  "';",
  "SELECT '/*';",
  'COPY public.t (a) FROM stdin;',
  '\\.',
  '--',
  '-- Data for Name: t; Type: TABLE DATA; Schema: public; Owner: -',
  '--',
  '',
  'COPY public.t (a) FROM stdin;',
  '\\\\.',
  '',
  'COPY public.t (a) FROM stdin;',
  'x\\.',
  '\\N',
  '\\.',
  'COPY "My ""S"". x',
  'y"."t,1" ("a b", "c',
  'd") FROM stdin;',
  '1\tx',
  '\\.',
  'COPY public.empty (a) FROM stdin;',
  '\\.',
  '',
  '-- PostgreSQL database dump complete',
  '',
].join('\n');

async function count(text: string, step: number) {
  const counter = new RowCounter('test');
  const bytes = Buffer.from(text, 'utf8');
  for (let i = 0; i < bytes.length; i += step) counter.write(bytes.subarray(i, i + step));
  return counter.finish();
}

describe('RowCounter', () => {
  it('counts the data lines of real COPY blocks only, whatever the chunking', async () => {
    for (const step of [1, 2, 3, 7, 64, 1 << 20]) {
      expect(await count(DUMP, step)).toEqual({
        rows: [
          { schema: 'public', table: 't', rows: 5 },
          { schema: 'My "S". x\ny', table: 't,1', rows: 1 },
          { schema: 'public', table: 'empty', rows: 0 },
        ],
      });
    }
  });

  it('a dump that ends inside COPY data gives a problem, not counts', async () => {
    const r = await count('COPY public.t (a) FROM stdin;\n1\n', 5);
    expect(r).toMatchObject({ problem: expect.stringMatching(/inside the data of a COPY/) });
  });

  it('names beyond ASCII: counted from a UTF8 dump, refused from another encoding', async () => {
    const dump = 'COPY "schéma"."tü" (a) FROM stdin;\n1\n\\.\n';
    const utf8 = new RowCounter('test', 'UTF8');
    utf8.write(Buffer.from(dump, 'utf8'));
    expect(await utf8.finish()).toEqual({ rows: [{ schema: 'schéma', table: 'tü', rows: 1 }] });
    const latin1 = new RowCounter('test', 'LATIN1');
    latin1.write(Buffer.from(dump, 'latin1'));
    expect(await latin1.finish()).toMatchObject({ problem: expect.stringMatching(/other than ASCII in a LATIN1 database/) });
    const ascii = new RowCounter('test', 'LATIN1');
    ascii.write(Buffer.from('COPY public.t (a) FROM stdin;\n1\n\\.\n', 'latin1'));
    expect(await ascii.finish()).toEqual({ rows: [{ schema: 'public', table: 't', rows: 1 }] });
    expect(dumpEncoding("SET statement_timeout = 0;\nSET client_encoding = 'LATIN1';\n")).toBe('LATIN1');
    expect(dumpEncoding('')).toBe('UTF8');
  });

  it('reads schema-qualified quoted names exactly', () => {
    expect(copyTarget('COPY "My ""S"""."t,1" (a) FROM stdin;\n')).toEqual({ schema: 'My "S"', table: 't,1' });
    expect(copyTarget('COPY public.events (id) FROM stdin;\n')).toEqual({ schema: 'public', table: 'events' });
    expect(copyTarget('COPY "é"."ü" FROM stdin;\n'.replace(/[éü]/g, (c) => Buffer.from(c, 'utf8').toString('latin1')))).toEqual({ schema: 'é', table: 'ü' });
    expect(copyTarget('COPY events (id) FROM stdin;\n')).toBeUndefined();
  });
});

describe('manifest "rows" check', () => {
  const folder = '20250101_120000';
  const withRows = (rows: unknown, file = 'postgres_db_app.sql.gz') =>
    JSON.parse(folderFiles(folder, ['app'], (m) => ({ ...m, files: m.files.map((f) => (f.name === file ? { ...f, rows } : f)) }))['manifest.json']!.toString());

  it('accepts counts with any names, and a manifest without them', () => {
    expect(manifestProblem(withRows([{ schema: 'My "S". x\ny', table: 't,1', rows: 0 }, { schema: 'public', table: 'big', rows: 2 ** 40 }]), folder)).toBeUndefined();
    expect(manifestProblem(withRows(undefined), folder)).toBeUndefined();
    expect(manifestProblem(withRows([]), folder)).toBeUndefined();
  });

  it('refuses wrong types, negative or fractional counts, duplicates, extra fields, counts on other files', () => {
    for (const [rows, problem] of [
      [{}, /not a list/],
      [[{ schema: 'public', table: 't', rows: -1 }], /entry 0/],
      [[{ schema: 'public', table: 't', rows: 1.5 }], /entry 0/],
      [[{ schema: 'public', table: 't', rows: '1' }], /entry 0/],
      [[{ schema: '', table: 't', rows: 1 }], /entry 0/],
      [[{ schema: 'public', table: 'x'.repeat(64), rows: 1 }], /entry 0/],
      [[{ schema: 'public', table: 't', rows: 1, extra: true }], /fields other than/],
      [[{ schema: 'public', table: 't', rows: 1 }, { schema: 'public', table: 't', rows: 2 }], /twice/],
    ] as const) {
      expect(manifestProblem(withRows(rows), folder)).toMatch(problem);
    }
    expect(manifestProblem(withRows([], 'postgres_cluster.sql.gz'), folder)).toMatch(/only a database file has row counts/);
  });
});

describe('COPY rows in an archive block (custom format)', () => {
  const count = (pieces: string[]) => {
    const c = new CopyLineCounter();
    for (const p of pieces) c.add(Buffer.from(p, 'latin1'));
    return c.finish();
  };
  it('one row per line up to the line \\., wherever the pieces are cut; empty rows count; what follows \\. does not', () => {
    const block = 'a\tb\n\n\\\\.\n\\.x\n\\N\n\\.\n\n\n';
    // rows: "a\tb", "" (an empty text), "\\." (a backslash and a dot, escaped), "\.x", "\N" -> 5
    expect(count([block])).toBe(5);
    for (let cut = 0; cut <= block.length; cut++) expect(count([block.slice(0, cut), block.slice(cut)]), `cut at ${cut}`).toBe(5);
    expect(count(block.split(''))).toBe(5);
    expect(count(['1\n2\n3\n'])).toBe(3); // no end marker (a pg_dump that leaves it out)
    expect(count(['1\n2'])).toBe(2); // a last row without its newline
    expect(count([''])).toBe(0);
    expect(count(['\\.\n'])).toBe(0);
  });

  it('gives up on bytes that are not an archive, with the reason, and never holds the writer up', async () => {
    const counter = archiveRowCounter('the archive of database "x"');
    for (let i = 0; i < 200; i++) await counter.write(Buffer.alloc(64 * 1024, 0x41)); // 12.5 MiB, far past the buffer
    expect(await counter.finish()).toEqual({ problem: expect.stringMatching(/^the archive could not be read for counting \(the archive of database "x" is not a pg_dump custom-format archive/) });
  });
});
