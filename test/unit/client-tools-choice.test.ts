// Which pg_dump the backup image uses for which server: its clients 13, 15, 17 and 18 sit in
// /usr/lib/postgresql/N/bin (Dockerfile.backup), and findClientTools must take the server's own major
// when there is one, else the nearest newer one, and refuse a server newer than all of them. The
// tools here are small shell scripts that answer --version as pg_dump does (real child processes).
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rm } from 'node:fs/promises';
import { UsageError } from '../../src/core/errors.js';
import { findClientTools } from '../../src/core/postgres/client-tools.js';
import { makeTempDir } from '../helpers/tmp.js';

const IMAGE_MAJORS = [13, 15, 17, 18];
let root: string;

function fakeClient(dir: string, major: number): void {
  mkdirSync(dir, { recursive: true });
  for (const tool of ['pg_dump', 'pg_dumpall']) {
    const file = join(dir, tool);
    writeFileSync(file, `#!/bin/sh\necho "${tool} (PostgreSQL) ${major}.9 (Debian ${major}.9-1)"\n`);
    chmodSync(file, 0o755);
  }
}

beforeAll(async () => {
  root = await makeTempDir('pgb-client-choice');
  for (const m of IMAGE_MAJORS) fakeClient(join(root, 'usr/lib/postgresql', String(m), 'bin'), m);
  // a newer pg_dump on PATH must not win over the server's own major in an install place
  fakeClient(join(root, 'usr/local/bin'), 18);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const choose = (serverMajor: number) =>
  findClientTools({
    minMajor: serverMajor,
    purpose: `the server at test (PostgreSQL ${serverMajor}.1)`,
    tools: ['pg_dump', 'pg_dumpall'],
    pathEnv: join(root, 'usr/local/bin'),
    installPlaces: [join(root, 'usr/lib/postgresql/{N}/bin')],
  });

describe('the pg_dump the backup image uses for each server major', () => {
  it.each([
    [11, 13],
    [12, 13],
    [13, 13],
    [14, 15],
    [15, 15],
    [16, 17],
    [17, 17],
    [18, 18],
  ])('a PostgreSQL %i server is dumped by pg_dump %i', async (server, client) => {
    const tools = await choose(server);
    expect(tools.major).toBe(client);
    expect(tools.origin).toBe('install place');
    expect(tools.path('pg_dump')).toBe(join(root, 'usr/lib/postgresql', String(client), 'bin', 'pg_dump'));
  });

  it('a server newer than every client is refused, naming the major it needs', async () => {
    const err = await choose(19).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(/^no pg_dump of PostgreSQL 19 or newer was found for the server at test \(PostgreSQL 19\.1\); found only pg_dump 18\.9 in .*; install the PostgreSQL 19 client tools .*PG_BIN_DIR=\/usr\/lib\/postgresql\/19\/bin$/);
  });
});
