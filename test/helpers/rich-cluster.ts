// A fixture cluster that exercises what a backup tool can get wrong: awkward database and
// role names, role attributes/memberships/settings, database-level comments/grants/settings,
// many column types and nasty values, views, a materialized view, functions, triggers,
// sequences, identity columns, foreign keys, partial/expression indexes, comments, grants,
// default privileges, row-level security, partitioning, large objects and (when the server
// ships them) contrib extensions. Valid on PostgreSQL 13..18; deterministic data, a few
// thousand rows in total.
import type { PgServer } from './pg-server.js';
import { runFixtureSql } from './fixture-sql.js';

export interface RichCluster {
  /** Databases created by the fixture, plus `postgres` (which also gets content). */
  databases: string[];
  /** Roles created by the fixture (not including `postgres`). */
  roles: string[];
}

export const RICH_DATABASES = {
  app: 'app',
  sales: 'sales data',
  quotes: `it's "q"`,
  unicode: 'données_🐘',
  /** an `=` makes a naive `pg_dump NAME` treat the name as a connection string */
  equals: 'key=val db',
} as const;

export const RICH_ROLES = {
  owner: 'app_owner',
  reader: 'app_reader',
  writer: 'app_writer',
  group: 'readers',
  quoted: `o'brien "ops"`,
  limited: 'limited user',
  admin: 'creator',
} as const;

/** Quote an SQL identifier. */
export function qi(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
/** Quote an SQL string literal (standard_conforming_strings = on). */
export function ql(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

const R = RICH_ROLES;
const D = RICH_DATABASES;

/** Roles (one multi-statement query). */
function rolesSql(): string {
  return `
CREATE ROLE ${qi(R.group)} NOLOGIN;
COMMENT ON ROLE ${qi(R.group)} IS 'group role: read-only access';
CREATE ROLE ${qi(R.owner)} LOGIN PASSWORD 'owner-secret' CONNECTION LIMIT 5 VALID UNTIL '2099-12-31 23:59:59+00';
CREATE ROLE ${qi(R.reader)} LOGIN PASSWORD 'reader secret with spaces';
CREATE ROLE ${qi(R.writer)} LOGIN PASSWORD 'w''r"i\\ter' INHERIT;
CREATE ROLE ${qi(R.quoted)} LOGIN PASSWORD 'quoted';
CREATE ROLE ${qi(R.limited)} LOGIN NOINHERIT CONNECTION LIMIT 2 VALID UNTIL '2030-06-15 12:00:00+00' PASSWORD 'limited';
CREATE ROLE ${qi(R.admin)} NOLOGIN CREATEDB CREATEROLE;
GRANT ${qi(R.group)} TO ${qi(R.reader)}, ${qi(R.quoted)};
GRANT ${qi(R.group)} TO ${qi(R.writer)} WITH ADMIN OPTION;
GRANT ${qi(R.writer)} TO ${qi(R.owner)};
ALTER ROLE ${qi(R.reader)} SET search_path = sales, public;
ALTER ROLE ${qi(R.owner)} SET statement_timeout = '5min';
ALTER ROLE ${qi(R.quoted)} SET application_name = 'it''s "ops"';
`;
}

/** CREATE DATABASE cannot run in the implicit transaction of a multi-statement query: one each. */
function createDatabaseStatements(): string[] {
  return `CREATE DATABASE ${qi(D.app)} OWNER ${qi(R.owner)};
CREATE DATABASE ${qi(D.sales)} OWNER ${qi(R.owner)};
CREATE DATABASE ${qi(D.quotes)};
CREATE DATABASE ${qi(D.unicode)} OWNER ${qi(R.quoted)};
CREATE DATABASE ${qi(D.equals)} CONNECTION LIMIT 10`.split(';\n');
}

/** Database-level properties. */
function databasePropertiesSql(): string {
  return `
COMMENT ON DATABASE ${qi(D.app)} IS 'main application database';
COMMENT ON DATABASE ${qi(D.unicode)} IS 'base de données — 🐘';
GRANT CONNECT, TEMPORARY ON DATABASE ${qi(D.sales)} TO ${qi(R.group)};
REVOKE CONNECT, TEMPORARY ON DATABASE ${qi(D.quotes)} FROM PUBLIC;
GRANT CONNECT ON DATABASE ${qi(D.quotes)} TO ${qi(R.quoted)};
GRANT CREATE ON DATABASE ${qi(D.app)} TO ${qi(R.writer)} WITH GRANT OPTION;
ALTER DATABASE ${qi(D.app)} SET timezone = 'Europe/Paris';
ALTER DATABASE ${qi(D.unicode)} SET search_path = "schéma", public;
ALTER DATABASE ${qi(D.sales)} SET work_mem = '8MB';
ALTER ROLE ${qi(R.reader)} IN DATABASE ${qi(D.app)} SET work_mem = '16MB';

-- db-level properties of the postgres database itself (see the harness test: plain
-- pg_dumpall does not carry these over, pg_dump --create does)
COMMENT ON DATABASE postgres IS 'the maintenance db, with a comment';
ALTER DATABASE postgres SET lock_timeout = '10s';
GRANT TEMPORARY ON DATABASE postgres TO ${qi(R.group)};
`;
}

/** The full schema + data for one database. `tag` varies the data between databases. */
function richDatabaseSql(tag: string, extensions: string[]): string {
  const hasHstore = extensions.includes('hstore');
  const hasCitext = extensions.includes('citext');
  return `
SET client_min_messages = warning;
CREATE SCHEMA sales AUTHORIZATION ${qi(R.owner)};
CREATE SCHEMA audit;
CREATE SCHEMA "Mixed Case";
CREATE SCHEMA "schéma";
COMMENT ON SCHEMA sales IS 'sales schema for ${tag}';

CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy', 'it''s complicated');
CREATE TYPE public.address AS (street text, zip varchar(10), geo point);
CREATE DOMAIN public.positive_int AS integer CHECK (VALUE > 0);
CREATE DOMAIN public.email AS text CONSTRAINT email_has_at CHECK (VALUE ~ '@');
CREATE TYPE public.floatrange AS RANGE (subtype = float8, subtype_diff = float8mi);
COMMENT ON TYPE public.mood IS 'how it went';
CREATE TEXT SEARCH CONFIGURATION public.my_simple (COPY = pg_catalog.simple);

CREATE TABLE public.kitchen_sink (
  id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  i integer, bi bigint, n numeric(20,6), nn numeric, r real, d double precision,
  t text, tc text COLLATE "C", vc varchar(50), c char(5), b bytea, flag boolean,
  dt date, ts timestamp(3), tstz timestamptz, tm time, iv interval, u uuid,
  j json, jb jsonb, ia integer[], ta text[], m2 integer[][],
  m public.mood, addr public.address, pi public.positive_int, e public.email,
  ip inet, net cidr, mac macaddr, cash money, pt point, bx box, tsv tsvector,
  ir int4range, tr tstzrange, nr numrange, fr public.floatrange, bits bit varying(16),
  gen_total numeric GENERATED ALWAYS AS (coalesce(i, 0)::numeric * 2) STORED
);
COMMENT ON TABLE public.kitchen_sink IS 'one column of (almost) every type';
COMMENT ON COLUMN public.kitchen_sink.b IS 'bytes that are not UTF-8';

INSERT INTO public.kitchen_sink (i, bi, n, nn, r, d, t, tc, vc, c, b, flag, dt, ts, tstz, tm, iv, u, j, jb,
    ia, ta, m2, m, addr, pi, e, ip, net, mac, cash, pt, bx, tsv, ir, tr, nr, fr, bits)
SELECT g, g::bigint * 1000000007, (g * 3.14159)::numeric(20,6), g::numeric / 7, (g / 7.0)::real, g / 3.0::float8,
  'row ' || g || E'\\t${tag}\\n' || repeat('x', g % 5), 'C' || g, 'vc' || g, chr(65 + g % 26), decode(md5(g::text || '${tag}'), 'hex'),
  g % 2 = 0, date '2020-01-01' + g, timestamp '2020-01-01 00:00:00' + g * interval '1 hour 1.5 seconds',
  timestamptz '2020-01-01 00:00:00+00' + g * interval '1 minute', time '00:00' + g * interval '7 minutes', g * interval '1 day 2 hours',
  md5(g::text)::uuid, json_build_object('g', g, 'sq', g * g), jsonb_build_object('g', g, 'tags', jsonb_build_array('a', g, null)),
  ARRAY[g, g + 1, NULL], ARRAY['a' || g, NULL, 'b"c', ''], ARRAY[[g, 1], [2, g]],
  (enum_range(NULL::public.mood))[1 + g % 4], ROW('street ' || g, lpad(g::text, 5, '0'), point(g, -g))::public.address, g,
  'user' || g || '@example.com', ('10.0.' || (g % 256) || '.' || (g % 200 + 1))::inet, ('10.' || (g % 256) || '.0.0/16')::cidr,
  ('08:00:2b:01:02:' || lpad(to_hex(g % 256), 2, '0'))::macaddr, (g * 1.25)::numeric::money, point(g * 0.5, g * -0.25),
  box(point(0, 0), point(g, g)), to_tsvector('simple', 'word' || g || ' other words ${tag}'), int4range(g, g + 10),
  tstzrange(timestamptz '2020-01-01 00:00+00' + g * interval '1 day', NULL), numrange(g, g * 2 + 1, '[]'),
  public.floatrange(g, g + 0.5), (g % 65536)::bit(16)::varbit
FROM generate_series(1, 200) g;

-- values that break naive quoting, COPY escaping or encodings
INSERT INTO public.kitchen_sink (i, bi, n, nn, r, d, t, tc, vc, c, b, flag, dt, ts, tstz, iv, j, jb, ia, ta)
VALUES (2147483647, -9223372036854775808, -99999999999999.999999, 'NaN', '-0', 'Infinity',
  E'tab\\there\\nnew line\\r\\ncrlf \\\\ backslash \\\\N ''single'' "double" é ü 中文 🐘 \\x01 ctl\\n\\\\.\\nafter end-of-copy marker',
  E'\\\\.', repeat('v', 50), 'ab', '\\x00ff80fe5c0a0d2c'::bytea, NULL,
  'infinity', '-infinity', '0044-03-15 12:00:00+00 BC', '-1 year 2 mons -3 days 04:05:06.789',
  '{"dup":1,"dup":2, "nul":"\\u0000",  "sp" :  [ ] }', '{"k": "v\\"q", "n": null, "arr": [1, 2.50, {"x": []}], "e": "é\\n"}',
  '{}', '{"", NULL, "NULL", "with,comma", "with \\"quote\\"", "back\\\\slash", "{braces}"}'),
  (NULL, NULL, NULL, '0.000000000000000000001', 'NaN', '-Infinity', '', '', '', '', '', false,
   '1999-12-31', '2000-02-29 23:59:59.999', '2038-01-19 03:14:08+00', '0', 'null', '"just a string"', '{NULL}', '{}');
INSERT INTO public.kitchen_sink DEFAULT VALUES;

CREATE TABLE sales.customers (
  id integer GENERATED ALWAYS AS IDENTITY (START WITH 1000 INCREMENT BY 7) PRIMARY KEY,
  name text NOT NULL,
  email public.email UNIQUE,
  country char(2) NOT NULL DEFAULT 'FR',
  created timestamptz NOT NULL DEFAULT '2024-01-01 00:00:00+00'
);
ALTER TABLE sales.customers OWNER TO ${qi(R.owner)};
INSERT INTO sales.customers (name, email, country, created)
SELECT 'Customer ' || g || CASE WHEN g % 10 = 0 THEN ' O''Brien' ELSE '' END, 'c' || g || '@${tag}.example',
  (ARRAY['FR', 'DE', 'JP', 'BR'])[1 + g % 4], timestamptz '2024-01-01 00:00+00' + g * interval '3 hours'
FROM generate_series(1, 100) g;

CREATE TABLE audit.changes (
  id bigserial PRIMARY KEY, table_name text NOT NULL, op text NOT NULL, row_data jsonb,
  at timestamptz NOT NULL DEFAULT '2024-06-01 00:00:00+00'
);
CREATE SEQUENCE audit.ticket_seq START 100 INCREMENT 5 MINVALUE 100 MAXVALUE 1000000 CYCLE CACHE 1;
CREATE SEQUENCE audit.unused_seq AS smallint;
CREATE SEQUENCE audit."Odd ""Seq"" Name" START 7;

CREATE FUNCTION audit.log_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = audit, pg_catalog AS $fn$
BEGIN
  INSERT INTO audit.changes (table_name, op, row_data)
  VALUES (TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, TG_OP, to_jsonb(NEW));
  RETURN NEW;
END
$fn$;
REVOKE EXECUTE ON FUNCTION audit.log_change() FROM PUBLIC;
COMMENT ON FUNCTION audit.log_change() IS 'audit trigger';

CREATE FUNCTION public.add_tax(amount numeric, rate numeric DEFAULT 0.2) RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT round(amount * (1 + rate), 2) $$;
ALTER FUNCTION public.add_tax(numeric, numeric) OWNER TO ${qi(R.owner)};
CREATE FUNCTION public.order_count(cust integer) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE n bigint;
BEGIN
  SELECT count(*) INTO n FROM sales.orders WHERE customer_id = cust;
  RETURN n;
END
$$;
CREATE PROCEDURE audit.bump(INOUT counter integer) LANGUAGE plpgsql AS $$ BEGIN counter := counter + 1; END $$;

CREATE TABLE sales.orders (
  id bigserial PRIMARY KEY,
  customer_id integer NOT NULL REFERENCES sales.customers (id) ON DELETE CASCADE,
  amount numeric(12,2) NOT NULL CHECK (amount >= 0),
  status public.mood,
  placed_at timestamptz NOT NULL,
  ticket integer DEFAULT nextval('audit.ticket_seq'),
  note text
);
ALTER TABLE sales.orders OWNER TO ${qi(R.owner)};
CREATE TRIGGER orders_audit AFTER INSERT OR UPDATE ON sales.orders
  FOR EACH ROW EXECUTE FUNCTION audit.log_change();
INSERT INTO sales.orders (customer_id, amount, status, placed_at, note)
SELECT 1000 + 7 * (g % 100), round((g * 13.37)::numeric % 1000, 2), (enum_range(NULL::public.mood))[1 + g % 4],
  timestamptz '2024-02-01 08:00+00' + g * interval '97 minutes',
  CASE WHEN g % 17 = 0 THEN NULL WHEN g % 5 = 0 THEN E'note\\twith\\ttabs' ELSE 'order #' || g END
FROM generate_series(1, 300) g;
UPDATE sales.orders SET note = note || ' (edited)' WHERE id % 50 = 0;
SELECT setval('audit.ticket_seq', 4242, true);
SELECT setval('audit."Odd ""Seq"" Name"', 7, false);
SELECT setval('sales.orders_id_seq', 5000);

CREATE INDEX orders_open_idx ON sales.orders (placed_at) WHERE status <> 'happy';
CREATE INDEX customers_lower_name_idx ON sales.customers (lower(name));
CREATE INDEX orders_customer_idx ON sales.orders USING hash (customer_id);
CREATE INDEX kitchen_sink_jb_idx ON public.kitchen_sink USING gin (jb jsonb_path_ops);
CREATE INDEX kitchen_sink_tsv_idx ON public.kitchen_sink USING gist (tsv);
COMMENT ON INDEX sales.orders_open_idx IS 'partial index';
CREATE STATISTICS sales.orders_stats (dependencies) ON customer_id, status FROM sales.orders;

CREATE VIEW sales.order_totals WITH (security_barrier) AS
  SELECT c.id, c.name, count(o.id) AS orders, coalesce(sum(o.amount), 0) AS total
  FROM sales.customers c LEFT JOIN sales.orders o ON o.customer_id = c.id
  GROUP BY c.id, c.name;
ALTER VIEW sales.order_totals OWNER TO ${qi(R.owner)};
COMMENT ON VIEW sales.order_totals IS 'per-customer totals';
CREATE MATERIALIZED VIEW sales.monthly AS
  SELECT date_trunc('month', placed_at AT TIME ZONE 'UTC') AS month, status, count(*) AS n, sum(amount) AS total
  FROM sales.orders GROUP BY 1, 2;
CREATE UNIQUE INDEX monthly_key ON sales.monthly (month, status);
CREATE MATERIALIZED VIEW sales.never_refreshed AS SELECT id FROM sales.customers WITH NO DATA;

CREATE TABLE sales.events (
  id bigint NOT NULL, happened date NOT NULL, kind text NOT NULL, payload jsonb,
  PRIMARY KEY (id, happened, kind)
) PARTITION BY RANGE (happened);
CREATE TABLE sales.events_2024 PARTITION OF sales.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE sales.events_2025 PARTITION OF sales.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')
  PARTITION BY LIST (kind);
CREATE TABLE sales.events_2025_click PARTITION OF sales.events_2025 FOR VALUES IN ('click');
CREATE TABLE sales.events_2025_other PARTITION OF sales.events_2025 DEFAULT;
CREATE TABLE sales.events_default PARTITION OF sales.events DEFAULT;
INSERT INTO sales.events
SELECT g, date '2023-12-01' + g * 5, (ARRAY['click', 'view', 'buy'])[1 + g % 3], jsonb_build_object('n', g)
FROM generate_series(1, 150) g;

CREATE TABLE "Mixed Case"."Weird ""Table"" Name" (
  "Id" integer PRIMARY KEY, "column with spaces" text, "ß ümlaut" text, "select" integer
);
ALTER TABLE "Mixed Case"."Weird ""Table"" Name" OWNER TO ${qi(R.quoted)};
INSERT INTO "Mixed Case"."Weird ""Table"" Name" VALUES (1, 'a b', 'ß', 1), (2, NULL, E'\\\\', NULL);

CREATE TABLE "schéma"."tâble" (clé text PRIMARY KEY, valeur text);
INSERT INTO "schéma"."tâble" VALUES ('🐘', 'éléphant'), ('日本', '象');

CREATE UNLOGGED TABLE public.cache (k text PRIMARY KEY, v text);
INSERT INTO public.cache VALUES ('a', '1'), ('b', '2');

CREATE TABLE public.bookings (id int PRIMARY KEY, room int NOT NULL, during tstzrange NOT NULL,
  EXCLUDE USING gist (during WITH &&));
INSERT INTO public.bookings VALUES (1, 1, '[2024-01-01 10:00+00, 2024-01-01 11:00+00)'),
  (2, 1, '[2024-01-01 11:00+00, 2024-01-01 12:00+00)');

CREATE TABLE public.parent_t (id int, label text);
CREATE TABLE public.child_t (extra text) INHERITS (public.parent_t);
INSERT INTO public.parent_t VALUES (1, 'parent');
INSERT INTO public.child_t VALUES (2, 'child', 'x');

-- large objects, with owner, comment and grant; referenced from a table
CREATE TABLE public.documents (id int PRIMARY KEY, name text, blob oid);
DO $$
DECLARE o oid;
BEGIN
  FOR k IN 1..3 LOOP
    o := lo_from_bytea(0, convert_to(repeat('large object ${tag} ' || k || E' \\n', 50 * k), 'UTF8') || '\\x00ff'::bytea);
    INSERT INTO public.documents VALUES (k, 'doc ' || k, o);
    EXECUTE format('ALTER LARGE OBJECT %s OWNER TO %I', o, ${ql(R.owner)});
    EXECUTE format('COMMENT ON LARGE OBJECT %s IS %L', o, 'blob #' || k || ' of ${tag}');
    IF k = 2 THEN
      EXECUTE format('GRANT SELECT ON LARGE OBJECT %s TO %I', o, ${ql(R.group)});
    END IF;
  END LOOP;
END
$$;

-- privileges
GRANT USAGE ON SCHEMA sales TO ${qi(R.group)};
GRANT SELECT ON ALL TABLES IN SCHEMA sales TO ${qi(R.group)};
GRANT SELECT, INSERT, UPDATE ON sales.orders TO ${qi(R.writer)};
GRANT USAGE ON SEQUENCE sales.orders_id_seq TO ${qi(R.writer)};
GRANT SELECT (id, name), UPDATE (name) ON sales.customers TO ${qi(R.limited)};
GRANT ALL ON public.kitchen_sink TO ${qi(R.owner)} WITH GRANT OPTION;
REVOKE ALL ON public.cache FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit.log_change() TO ${qi(R.owner)};
GRANT USAGE ON TYPE public.mood TO ${qi(R.reader)};
ALTER DEFAULT PRIVILEGES FOR ROLE ${qi(R.owner)} IN SCHEMA sales GRANT SELECT ON TABLES TO ${qi(R.group)};
ALTER DEFAULT PRIVILEGES FOR ROLE ${qi(R.owner)} REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- row-level security
ALTER TABLE sales.orders ENABLE ROW LEVEL SECURITY;
CREATE POLICY orders_readers ON sales.orders FOR SELECT TO ${qi(R.group)} USING (status IS DISTINCT FROM 'sad');
CREATE POLICY orders_writer ON sales.orders FOR ALL TO ${qi(R.writer)} USING (true) WITH CHECK (amount < 100000);
ALTER TABLE sales.customers ENABLE ROW LEVEL SECURITY;
ALTER TABLE sales.customers FORCE ROW LEVEL SECURITY;
CREATE POLICY customers_fr ON sales.customers USING (country = 'FR');

${hasHstore || hasCitext ? `CREATE SCHEMA ext;` : ''}
${hasHstore ? `CREATE EXTENSION hstore WITH SCHEMA ext;` : ''}
${hasCitext ? `CREATE EXTENSION citext WITH SCHEMA ext;` : ''}
${
  hasHstore || hasCitext
    ? `CREATE TABLE public.with_ext (id int PRIMARY KEY${hasHstore ? ', attrs ext.hstore' : ''}${hasCitext ? ', nick ext.citext UNIQUE' : ''});
INSERT INTO public.with_ext SELECT g${hasHstore ? `, ('a=>' || g || ', "b c"=>"d\\"e", n=>NULL')::ext.hstore` : ''}${hasCitext ? `, 'Nick' || g` : ''} FROM generate_series(1, 20) g;`
    : ''
}

ANALYZE;
`;
}

/** Small content for the databases that are mostly about their names. */
function smallDatabaseSql(tag: string): string {
  return `
CREATE TABLE public."it's" ("col ""x""" text, n int);
INSERT INTO public."it's" VALUES ('${tag.replace(/'/g, "''")}', 1), (E'a\\tb\\\\c', 2), (NULL, NULL);
CREATE VIEW public.v AS SELECT * FROM public."it's" WHERE n > 0;
`;
}

/** Content for the postgres maintenance database. */
function postgresDatabaseSql(): string {
  return `
CREATE TABLE public.app_settings (key text PRIMARY KEY, value jsonb NOT NULL, updated timestamptz NOT NULL DEFAULT '2024-01-01 00:00+00');
INSERT INTO public.app_settings (key, value) VALUES ('feature.x', 'true'), ('limits', '{"max": 10}'), ('name', '"prod"');
CREATE SCHEMA maintenance AUTHORIZATION ${qi(R.admin)};
CREATE TABLE maintenance.jobs (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text, last_run timestamptz);
INSERT INTO maintenance.jobs (name, last_run) SELECT 'job ' || g, timestamptz '2024-01-01 00:00+00' + g * interval '1 day' FROM generate_series(1, 25) g;
COMMENT ON TABLE maintenance.jobs IS 'jobs';
GRANT SELECT ON public.app_settings TO ${qi(R.group)};
SELECT lo_from_bytea(0, '\\x0102030405'::bytea);
`;
}

const step = (server: PgServer, sql: string, db = 'postgres') => runFixtureSql('createRichCluster', server, sql, db);

export async function createRichCluster(server: PgServer): Promise<RichCluster> {
  const available = await server.query(
    `SELECT name FROM pg_available_extensions WHERE name IN ('hstore', 'citext') ORDER BY name`,
  );
  const extensions = available.map((r: { name: string }) => r.name);

  await step(server, rolesSql());
  // Concurrently, on separate connections (each CREATE DATABASE takes ~0.25 s).
  await Promise.all(createDatabaseStatements().map((stmt) => step(server, stmt)));
  await step(server, databasePropertiesSql());

  const rich: Array<[string, string]> = [
    [D.app, 'app'],
    [D.sales, 'sales'],
    [D.unicode, 'unicode'],
  ];
  await Promise.all([
    ...rich.map(([db, tag]) => step(server, richDatabaseSql(tag, extensions), db)),
    step(server, smallDatabaseSql(D.quotes), D.quotes),
    step(server, smallDatabaseSql(D.equals), D.equals),
    step(server, postgresDatabaseSql(), 'postgres'),
  ]);

  return {
    databases: ['postgres', D.app, D.sales, D.quotes, D.unicode, D.equals],
    roles: Object.values(R),
  };
}
