// The generated cluster shared by the benchmarks: three databases (shop, analytics, crm) of
// realistic, not overly compressible rows, made server-side with generate_series. See bench/README.md.
import { availableParallelism } from 'node:os';
import { chalk } from 'zx';
import { log } from './util.mjs';
import { state } from './procs.mjs';

export const GENERATOR_VERSION = 3; // bump when the data model changes: a kept cluster is then regenerated

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
export const DATABASES = [
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

/** Generates the databases at `scale` (1: ~1.2 GB pg_database_size); returns the seconds it took. */
export async function generate(connect, { scale }) {
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
      const rows = Math.max(100, Math.round(t.rows * scale));
      const chunk = Math.max(1000, Math.ceil(rows / 8));
      for (let a = 1; a <= rows; a += chunk) jobs.push({ db: db.name, table: t.name, sql: t.insert(a, Math.min(rows, a + chunk - 1)) });
    }
  }
  // One worker per core.
  let done = 0;
  const workers = Array.from({ length: availableParallelism() }, async () => {
    for (;;) {
      const job = jobs.shift();
      if (!job || state.interrupted) return;
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
  if (state.interrupted) throw new Error('interrupted');
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

export async function sizes(connect) {
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
