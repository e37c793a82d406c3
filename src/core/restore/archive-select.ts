// Which entries of a custom-format archive's TOC (see archive-toc.ts) `pg_restore -L` should
// restore for a selection of schemas and tables, into a NEW database that holds only the selection;
// the list file for it; the archive's tables for a pick list; and the parsing of RESTORE_TABLES /
// RESTORE_SCHEMAS values. Pure logic: no I/O.
//
// Choices made (the selection semantics):
// - A chosen schema brings its SCHEMA entry, every entry whose namespace is that schema, and the
//   COMMENT / ACL / SECURITY LABEL entries on the schema (matched by dependency, or by the tag
//   `SCHEMA name` where older archives have no SCHEMA entry, as for `public`). Entries of the
//   "attached" kinds (indexes, constraints, triggers, defaults, comments, ACLs, TABLE DATA ...) in
//   the schema go through the closure below instead, so that e.g. an FK to a table of another,
//   unchosen schema is left out rather than failing the restore.
// - A chosen table (any relation: TABLE, VIEW, MATERIALIZED VIEW, FOREIGN TABLE, SEQUENCE) brings
//   its entry, its TABLE DATA / MATERIALIZED VIEW DATA, and its SCHEMA entry unless the schema is
//   `public` (which every new database has; pre-15 archives have no SCHEMA entry for it). A chosen
//   table also brings, recursively, the tables that depend on it: its partitions (and their TABLE
//   ATTACH entries, through the closure) and inheritance children (and, rarely, a table that uses
//   its row type as a column type). A chosen schema brings no tables of other schemas.
// - Sequences: a SEQUENCE that depends on a chosen relation (owned by it: serial columns, identity
//   columns) is brought, and so is any sequence a DEFAULT of a chosen relation uses (a shared
//   sequence), each with its schema's SCHEMA entry unless public.
// - Closure, to a fixed point: an unselected entry of an attached kind is added when it depends on
//   at least one selected entry and each of its dependencies is selected, absent from the TOC, or
//   of a kind assumed to exist in the target (schemas, extensions, types, functions, operators,
//   collations, languages, text search and foreign-data objects...: not restored here, so the
//   restore either finds them or fails honestly). Anything else unselected blocks, so an FK
//   constraint comes only when every table it references (their unique constraint) is selected.
//   A SEQUENCE OWNED BY also needs the relations its sequence depends on (the owning table).
//   Relations never come through the closure: a view over a chosen table is not restored unless
//   chosen.
// - What the selection needs to be created: the types, domains, functions, sequences, extensions,
//   collations, operators... that a selected entry depends on (a column's type, a trigger's
//   function, a DEFAULT's shared sequence), recursively, with their schemas. A function body that
//   reads other tables is created all the same (pg_dump turns check_function_bodies off) and
//   fails only when called.
// - Database-level entries (DATABASE, DATABASE PROPERTIES, and COMMENT / ACL / SECURITY LABEL whose
//   tag starts with "DATABASE ") only with withDatabase. ENCODING / STDSTRINGS / SEARCHPATH are
//   never listed: pg_restore applies them whatever the list says.
// - `missing` names what was chosen but is not in the archive, written as in RESTORE_TABLES
//   (quoted where needed: `sales.orders`, `"My Schema"."T"`).
// - Names in RESTORE_TABLES / RESTORE_SCHEMAS follow SQL: unquoted names are folded to lower case
//   (ASCII letters only, as PostgreSQL does) and may not hold spaces, dots, commas or quotes;
//   double-quoted names are taken as they are, with "" for one ". `table` alone means public.table.
import { UsageError } from '../errors.js';
import type { ArchiveToc, TocEntry } from './archive-toc.js';

export interface Selection {
  schemas: string[];
  tables: Array<{ schema: string; name: string }>;
}

const RELATIONS = new Set(['TABLE', 'VIEW', 'MATERIALIZED VIEW', 'FOREIGN TABLE', 'SEQUENCE']);
const TABLES = new Set(['TABLE', 'FOREIGN TABLE']);
const PICKABLE = new Set(['TABLE', 'VIEW', 'MATERIALIZED VIEW', 'FOREIGN TABLE']);
const DATA_KINDS = new Set(['TABLE DATA', 'MATERIALIZED VIEW DATA']);
/** Entries that belong to other objects: they come through the dependency closure only. */
const ATTACHED = new Set([
  'TABLE DATA', 'MATERIALIZED VIEW DATA', 'SEQUENCE SET', 'SEQUENCE OWNED BY', 'DEFAULT',
  'CONSTRAINT', 'CHECK CONSTRAINT', 'FK CONSTRAINT', 'INDEX', 'INDEX ATTACH', 'TABLE ATTACH',
  'TRIGGER', 'RULE', 'POLICY', 'ROW SECURITY', 'STATISTICS', 'STATISTICS DATA', 'EXTENDED STATISTICS DATA',
  'COMMENT', 'SECURITY LABEL', 'ACL', 'PUBLICATION TABLE', 'PUBLICATION TABLES IN SCHEMA',
]);
/** Kinds of dependencies that are assumed to exist in the target when they are not selected. */
const ASSUMED = new Set([
  'SCHEMA', 'EXTENSION', 'TYPE', 'SHELL TYPE', 'DOMAIN', 'FUNCTION', 'PROCEDURE', 'AGGREGATE',
  'OPERATOR', 'OPERATOR CLASS', 'OPERATOR FAMILY', 'COLLATION', 'CONVERSION', 'CAST', 'TRANSFORM',
  'PROCEDURAL LANGUAGE', 'TEXT SEARCH PARSER', 'TEXT SEARCH TEMPLATE', 'TEXT SEARCH DICTIONARY',
  'TEXT SEARCH CONFIGURATION', 'FOREIGN DATA WRAPPER', 'SERVER', 'USER MAPPING', 'ACCESS METHOD',
  'DATABASE', 'DATABASE PROPERTIES', 'ENCODING', 'STDSTRINGS', 'SEARCHPATH',
]);
const ON_OBJECT = new Set(['COMMENT', 'ACL', 'SECURITY LABEL']);
/** Kinds a selected entry brings along when it depends on them (so that a table alone can be created). */
const NEEDED = new Set([
  'SCHEMA', 'EXTENSION', 'TYPE', 'SHELL TYPE', 'DOMAIN', 'FUNCTION', 'PROCEDURE', 'AGGREGATE', 'SEQUENCE',
  'OPERATOR', 'OPERATOR CLASS', 'OPERATOR FAMILY', 'COLLATION', 'CONVERSION', 'PROCEDURAL LANGUAGE',
  'TEXT SEARCH PARSER', 'TEXT SEARCH TEMPLATE', 'TEXT SEARCH DICTIONARY', 'TEXT SEARCH CONFIGURATION',
]);

/** The dumpIds (in TOC order) pg_restore -L should restore for a selection; `missing` = selected names the archive does not have. withDatabase: also the DATABASE / DATABASE PROPERTIES entries and COMMENT/SECURITY LABEL/ACL entries on the database (for `pg_restore --create -f -`). */
export function selectEntries(toc: ArchiveToc, sel: Selection, opts: { withDatabase?: boolean } = {}): { ids: number[]; missing: string[] } {
  const entries = toc.entries;
  // Look-ups made once: the loops below stay linear in the size of the TOC.
  const byId = new Map<number, TocEntry>();
  const schemaEntry = new Map<string, TocEntry>();
  const relationByName = new Map<string, TocEntry>();
  const dataOf = new Map<number, TocEntry[]>();
  const nameKey = (schema: string | null, name: string) => `${schema ?? ''}\u0000${name}`;
  for (const e of entries) {
    byId.set(e.dumpId, e);
    if (e.desc === 'SCHEMA' && e.namespace === null && !schemaEntry.has(e.tag)) schemaEntry.set(e.tag, e);
    if (RELATIONS.has(e.desc) && !relationByName.has(nameKey(e.namespace, e.tag))) relationByName.set(nameKey(e.namespace, e.tag), e);
  }
  for (const e of entries) {
    if (!DATA_KINDS.has(e.desc)) continue;
    const rel = relationByName.get(nameKey(e.namespace, e.tag));
    if (rel && e.deps.includes(rel.dumpId)) dataOf.set(rel.dumpId, [...(dataOf.get(rel.dumpId) ?? []), e]);
  }
  const selected = new Set<number>();
  const missing: string[] = [];
  const add = (e: TocEntry): boolean => {
    if (selected.has(e.dumpId)) return false;
    selected.add(e.dumpId);
    return true;
  };
  const isDatabaseLevel = (e: TocEntry) => e.desc === 'DATABASE' || e.desc === 'DATABASE PROPERTIES' || (ON_OBJECT.has(e.desc) && e.namespace === null && e.tag.startsWith('DATABASE '));
  const addSchemaOf = (schema: string | null) => {
    const own = schema === null || schema === 'public' ? undefined : schemaEntry.get(schema);
    if (own) add(own);
  };
  const addRelation = (rel: TocEntry) => {
    add(rel);
    addSchemaOf(rel.namespace);
    for (const data of dataOf.get(rel.dumpId) ?? []) add(data);
  };

  for (const schema of sel.schemas) {
    // pg_dump writes these tags with the name quoted as an identifier: a simple name may still be
    // quoted (a keyword), a name that needs quotes always is.
    const onSchemaTags = new Set(isSimpleName(schema) ? [`SCHEMA ${schema}`, `SCHEMA "${schema}"`] : [`SCHEMA ${quoteName(schema)}`]);
    let found = false;
    for (const e of entries) {
      const own = e.desc === 'SCHEMA' && e.namespace === null && e.tag === schema;
      const inIt = e.namespace === schema && !ATTACHED.has(e.desc);
      const onIt = ON_OBJECT.has(e.desc) && e.namespace === null && onSchemaTags.has(e.tag);
      if (own || inIt || onIt) {
        add(e);
        found = true;
      } else if (e.namespace === schema) found = true;
    }
    if (!found) missing.push(quoteName(schema));
  }
  /** Chosen tables and their children (partitions, inheritance children). */
  const chosen = new Set<number>();
  for (const t of sel.tables) {
    const rel = relationByName.get(nameKey(t.schema, t.name));
    if (rel) {
      addRelation(rel);
      if (rel.desc === 'TABLE') chosen.add(rel.dumpId);
    } else missing.push(`${quoteName(t.schema)}.${quoteName(t.name)}`);
  }

  const isSelectedTable = (id: number) => selected.has(id) && TABLES.has(byId.get(id)?.desc ?? '');
  const effectiveDeps = (e: TocEntry): number[] => {
    if (e.desc !== 'SEQUENCE OWNED BY') return e.deps;
    const extra = e.deps.flatMap((d) => (byId.get(d)?.desc === 'SEQUENCE' ? byId.get(d)!.deps.filter((x) => RELATIONS.has(byId.get(x)?.desc ?? '')) : []));
    return [...e.deps, ...extra];
  };
  const closureAllows = (e: TocEntry): boolean => {
    const deps = effectiveDeps(e);
    if (!deps.some((d) => selected.has(d))) return false;
    return deps.every((d) => {
      if (selected.has(d)) return true;
      const dep = byId.get(d);
      return dep === undefined || ASSUMED.has(dep.desc);
    });
  };

  for (let changed = true; changed; ) {
    changed = false;
    for (const e of entries) {
      if (selected.has(e.dumpId) || isDatabaseLevel(e)) continue;
      if (TABLES.has(e.desc) && e.deps.some((d) => chosen.has(d))) {
        // A child of a chosen table: a partition, or an inheritance child (or, rarely, a table
        // using the chosen table's row type). Partitions are attached by TABLE ATTACH (closure).
        addRelation(e);
        chosen.add(e.dumpId);
        changed = true;
        continue;
      }
      if (e.desc === 'SEQUENCE' && e.deps.some(isSelectedTable)) {
        add(e);
        addSchemaOf(e.namespace);
        changed = true;
        continue;
      }
      if (e.desc === 'DEFAULT' && e.deps.some(isSelectedTable)) {
        for (const d of e.deps) {
          const dep = byId.get(d);
          if (dep?.desc === 'SEQUENCE' && add(dep)) {
            addSchemaOf(dep.namespace);
            changed = true;
          }
        }
      }
      if (ATTACHED.has(e.desc) && closureAllows(e)) changed = add(e) || changed;
    }
    // What the selection needs to be created at all: the types, functions, sequences, extensions
    // (and their schemas) its entries depend on, recursively. Never another table's rows.
    for (const e of entries) {
      if (!selected.has(e.dumpId)) continue;
      for (const d of e.deps) {
        const dep = byId.get(d);
        if (!dep || selected.has(d) || !NEEDED.has(dep.desc)) continue;
        if (dep.desc === 'SCHEMA') {
          if (dep.tag === 'public') continue;
          add(dep);
        } else {
          add(dep);
          addSchemaOf(dep.namespace);
        }
        changed = true;
      }
    }
  }

  if (opts.withDatabase) for (const e of entries) if (isDatabaseLevel(e)) add(e);
  const ids = entries.filter((e) => selected.has(e.dumpId)).map((e) => e.dumpId);
  return { ids, missing };
}

/** One "<dumpId>;\n" line per id (pg_restore -L reads the id at the start of each line; nothing else from names goes in). */
export function listFileText(ids: number[]): string {
  return ids.map((id) => {
    if (!Number.isInteger(id) || id <= 0) throw new RangeError(`not a dump id: ${id}`);
    return `${id};\n`;
  }).join('');
}

/** The archive's tables (and views, materialized views, foreign tables) for a pick list, sorted by schema then name. */
export function archiveTables(toc: ArchiveToc): Array<{ schema: string; name: string; kind: string; hasData: boolean }> {
  const withData = new Set<number>();
  for (const e of toc.entries) if (DATA_KINDS.has(e.desc)) for (const d of e.deps) withData.add(d);
  return toc.entries
    .filter((e) => PICKABLE.has(e.desc))
    .map((e) => ({ schema: e.namespace ?? '', name: e.tag, kind: e.desc, hasData: withData.has(e.dumpId) }))
    .sort((a, b) => compare(a.schema, b.schema) || compare(a.name, b.name));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** RESTORE_TABLES value: comma-separated `schema.table` or `table` (= public), SQL double quotes for awkward names. */
export function parseTableList(text: string, setting: string): Array<{ schema: string; name: string }> {
  const example = `${setting}=sales.orders,customers,"My Schema"."Order Lines"`;
  return parseNameList(text, setting, example, 2).map((parts) => (parts.length === 2 ? { schema: parts[0]!, name: parts[1]! } : { schema: 'public', name: parts[0]! }));
}

/** RESTORE_SCHEMAS value: comma-separated schema names, SQL double quotes for awkward names. */
export function parseSchemaList(text: string, setting: string): string[] {
  const example = `${setting}=sales,"My Schema"`;
  return parseNameList(text, setting, example, 1).map((parts) => parts[0]!);
}

/** A name as it would be written in RESTORE_TABLES: bare when that reads back the same, else quoted. */
export function quoteName(name: string): string {
  return isSimpleName(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

function isSimpleName(name: string): boolean {
  return /^[a-z_][a-z0-9_$]*$/.test(name);
}

/** Comma-separated items of 1..maxParts dot-separated names; blank text is an empty list. */
function parseNameList(text: string, setting: string, example: string, maxParts: number): string[][] {
  const fail = (what: string, at: number): never => {
    throw new UsageError(`${setting}: ${what} at character ${at + 1}; separate names with commas and double-quote names with spaces, dots, commas, quotes or upper case ("" for a quote inside), e.g. ${example}`);
  };
  const items: string[][] = [];
  if (text.trim() === '') return items;
  const isSpace = (c: string | undefined) => c !== undefined && /\s/.test(c);
  let i = 0;
  const skipSpace = () => {
    while (isSpace(text[i])) i++;
  };
  const name = (): string => {
    skipSpace();
    const start = i;
    if (text[i] === '"') {
      let out = '';
      for (i++; ; i++) {
        if (i >= text.length) fail('a double quote that is never closed', start);
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            out += '"';
            i++;
            continue;
          }
          i++;
          break;
        }
        out += text[i];
      }
      if (out === '') fail('an empty quoted name ""', start);
      return out;
    }
    while (i < text.length && !/[\s",.]/.test(text[i]!)) i++;
    if (i === start) {
      fail(i >= text.length ? 'a missing name at the end' : text[i] === ',' ? 'an empty name (two commas in a row, or a comma at an end)' : `a missing name before ${JSON.stringify(text[i])}`, start);
    }
    return text.slice(start, i).replace(/[A-Z]/g, (c) => c.toLowerCase());
  };
  for (;;) {
    const parts = [name()];
    skipSpace();
    while (text[i] === '.') {
      if (parts.length >= maxParts) fail(maxParts === 1 ? 'a dot in a schema name (quote a name that holds a dot)' : 'more than two dot-separated parts (write schema.table)', i);
      i++;
      parts.push(name());
      skipSpace();
    }
    items.push(parts);
    if (i >= text.length) return items;
    if (text[i] !== ',') fail(`unexpected ${JSON.stringify(text[i])} after a name`, i);
    i++;
  }
}
