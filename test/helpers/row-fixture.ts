// A database whose data and names hold what a naive row counter gets wrong, and count(*) of every
// table, for the row-count and drill tests.
import type { PgServer } from './pg-server.js';

export const HOSTILE_SCHEMA = 'My "S". x\ny';
export const HOSTILE_TABLE = 't,1 "q".\nz';
export const qi = (n: string) => `"${n.replace(/"/g, '""')}"`;
const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** Tables whose data holds what a naive line counter would get wrong. */
export const ROW_FIXTURE_SQL = `
CREATE TABLE public.texts (id int, t text);
INSERT INTO public.texts VALUES
  (1, E'line1\\nline2'), (2, E'back\\\\slash'), (3, E'tab\\there'), (4, E'\\\\.'), (5, E'\\n\\\\.\\n'),
  (6, 'COPY public.texts (id, t) FROM stdin;'), (7, E'x\\n\\\\.\\nCOPY fake (a) FROM stdin;\\n'), (8, ''), (9, NULL), (10, E'\\r\\n'),
  (11, E'-- Data for Name: x; Type: TABLE DATA; Schema: public; Owner: -\\n'), (12, E'\\\\.\\r');
CREATE TABLE public.one (t text);
INSERT INTO public.one VALUES (''), (E'\\\\.'), (''), (E'\\\\'), (E'\\n'), (NULL);
CREATE TABLE public.empty (a int);
CREATE TABLE public.parts (id int, k int) PARTITION BY RANGE (k);
CREATE TABLE public.parts_a PARTITION OF public.parts FOR VALUES FROM (0) TO (100);
CREATE TABLE public.parts_b PARTITION OF public.parts FOR VALUES FROM (100) TO (200);
CREATE TABLE public.parts_c PARTITION OF public.parts FOR VALUES FROM (200) TO (300);
INSERT INTO public.parts SELECT g, g % 200 FROM generate_series(1, 1000) g;
CREATE TABLE public.big AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 20000) g;
CREATE SCHEMA ${qi(HOSTILE_SCHEMA)};
CREATE TABLE ${qi(HOSTILE_SCHEMA)}.${qi(HOSTILE_TABLE)} ("a b" int, ${qi('c\nd')} text);
INSERT INTO ${qi(HOSTILE_SCHEMA)}.${qi(HOSTILE_TABLE)} VALUES (1, ${lit('COPY x (a) FROM stdin;')}), (2, E'\\\\.'), (3, 'z');
CREATE TABLE ${qi('Upper Case')} (a int);
INSERT INTO ${qi('Upper Case')} VALUES (1), (2);
SET check_function_bodies = off;
CREATE FUNCTION public.fake_copy() RETURNS void LANGUAGE plpgsql AS $body$
COPY fake (a) FROM stdin;
1
2
\\.
$body$;
CREATE FUNCTION public.quoted() RETURNS text LANGUAGE sql AS $$ SELECT '
COPY public.empty (a) FROM stdin;
5
' $$;
COMMENT ON TABLE public.empty IS '
COPY public.empty (a) FROM stdin;
1
\\.
';
`;

/** count(*) of every user table (leaf tables: a partitioned parent has no rows of its own). */
export async function tableCounts(server: PgServer, database: string): Promise<Map<string, number>> {
  const tables = await server.query(
    `SELECT n.nspname AS schema, c.relname AS table FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'`,
    database,
  );
  const out = new Map<string, number>();
  for (const t of tables) {
    const [row] = await server.query(`SELECT count(*)::int AS n FROM ONLY ${qi(t.schema)}.${qi(t.table)}`, database);
    out.set(`${t.schema}.${t.table}`, row.n);
  }
  return out;
}

