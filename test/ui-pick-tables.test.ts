// The pick list of a custom-format backup's tables, without a terminal (reducer and keys) and drawn
// by Ink (ink-testing-library): offered only for custom-format backups; Space marks, Enter keeps the
// marks and moves the target away from a database that exists; Esc changes nothing.
import { afterEach, describe, expect, it } from 'vitest';
import { createElement as h } from 'react';
import { cleanup, render } from 'ink-testing-library';
import { SessionView } from '../src/ui/screens/session-view.js';
import { ColorContext } from '../src/ui/screens/tone.js';
import { keyHints } from '../src/ui/state/keys.js';
import { current } from '../src/ui/state/select.js';
import type { ArchiveTable, State } from '../src/ui/state/types.js';
import { entry, folderAt, press, run, start } from './helpers/ui-fixtures.js';

afterEach(() => cleanup());

const ENTER = { return: true };
const ESC = { escape: true };
const draw = (state: State) => {
  const { lastFrame } = render(h(ColorContext.Provider, { value: false }, h(SessionView, { state })));
  return lastFrame() ?? '';
};

const TABLES: ArchiveTable[] = [
  { schema: 'Mixed Case', name: 'Weird "Table" Name', kind: 'TABLE' },
  { schema: 'public', name: 'customers', kind: 'TABLE' },
  { schema: 'public', name: 'order_totals', kind: 'VIEW' },
  { schema: 'sales', name: 'orders', kind: 'TABLE' },
];

/** A session whose newest backup is custom format (app, shop) and whose server has app. */
function loadedCustom(format: 'custom' | 'plain' = 'custom'): State {
  const e = entry(folderAt(2));
  const custom = { ...e, manifest: { ...e.manifest!, dumpFormat: format } };
  return run(
    start({ sources: [{ kind: 'local', location: '/backups' }] }),
    { type: 'server-loaded', version: '17.6', superuser: true, databases: ['postgres', 'app'] },
    { type: 'source-loaded', kind: 'local', entries: [custom] },
  );
}

describe('picking tables of a custom-format backup', () => {
  it('t opens the pick list only for a custom-format backup; the setup says so', () => {
    const plain = press(loadedCustom('plain'), ENTER, ENTER, ENTER, 't');
    expect(current(plain).name).toBe('setup');
    expect(keyHints(plain)).not.toContain('t tables');
    let s = press(loadedCustom(), ENTER, ENTER, ENTER); // app, which the server has
    expect(keyHints(s)).toContain('t tables');
    expect(draw(s)).toContain('Tables: all of them (t: pick some; a custom-format backup)');
    s = press(s, 't');
    expect(current(s)).toMatchObject({ name: 'pick-tables', choice: { database: 'app' }, picked: [] });
    expect(draw(s)).toContain("reading the archive's table of contents...");
  });

  it('Space marks and unmarks, / filters, Enter keeps the marks and moves the target to a new database', () => {
    let s = press(loadedCustom(), ENTER, ENTER, ENTER, 't');
    const id = (current(s) as Extract<ReturnType<typeof current>, { name: 'pick-tables' }>).id;
    s = run(s, { type: 'tables-ready', id, tables: TABLES });
    let f = draw(s);
    expect(f).toContain('None marked: the whole database is restored. Space marks a table.');
    expect(f).toContain('> [ ] "Mixed Case"."Weird ""Table"" Name"');
    expect(f).toContain('[ ] public.order_totals  (view)');
    s = press(s, ' '); // marks Mixed Case, moves down
    s = press(s, '/', ...'orders'.split(''), ENTER, ' ');
    f = draw(s);
    expect(f).toContain('2 marked: only these');
    expect(f).toContain('> [x] sales.orders');
    s = press(s, ENTER);
    expect(current(s)).toMatchObject({
      name: 'setup',
      choice: { database: 'app', target: 'app_tables', overwrite: false, tables: [{ schema: 'Mixed Case', name: 'Weird "Table" Name' }, { schema: 'sales', name: 'orders' }] },
    });
    f = draw(s);
    expect(f).toContain('Only the tables "Mixed Case"."Weird ""Table"" Name", sales.orders (t: change)');
    expect(f).toContain('"app_tables" does not exist on the server: it will be CREATED.');
    // Reopened, the marks are there; unmarking all goes back to the whole database.
    s = press(s, 't');
    expect((current(s) as { picked: string[] }).picked).toHaveLength(2);
    s = run(s, { type: 'tables-ready', id: (current(s) as { id: number }).id, tables: TABLES });
    s = press(s, ' ', 'j', 'j', 'j', ' ', ENTER);
    expect(current(s)).toMatchObject({ name: 'setup', choice: { tables: undefined } });
  });

  it('Esc leaves the marks as they were; a failure to read the archive is said on the screen', () => {
    let s = press(loadedCustom(), ENTER, ENTER, 'j', ENTER, 't'); // shop: not on the server
    const id = (current(s) as { id: number }).id;
    s = run(s, { type: 'tables-ready', id, tables: TABLES });
    s = press(s, ' ', ESC);
    expect(current(s)).toMatchObject({ name: 'setup', choice: { database: 'shop' } });
    expect((current(s) as { choice: { tables?: unknown } }).choice.tables).toBeUndefined();
    s = press(s, 't');
    s = run(s, { type: 'tables-failed', id: (current(s) as { id: number }).id, error: 'postgres_db_shop.dump is not a pg_dump custom-format archive' });
    expect(draw(s).replace(/\s+/g, ' ')).toContain("Cannot read the archive's table of contents: postgres_db_shop.dump is not a pg_dump custom-format archive");
  });
});
