// Several servers named BACKUP_<NAME>=postgresql://... (seed 000): which variables are servers, the
// folder each gets, and the settings refused. Pure logic over an environment; no server needed.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../../src/core/errors.js';
import { readConnection } from '../../src/core/settings/connection.js';
import { readBackupSettings } from '../../src/core/settings/backup.js';
import { backupConnection, readOneServerScope, readServerScopes, readServers, restoreConnection } from '../../src/core/settings/servers.js';
import { redact } from '../../src/core/secrets.js';

const input = (env: Record<string, string>, flags: Record<string, string> = {}) => ({ env, flags });

function usageError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error('expected a UsageError');
}

describe('BACKUP_<NAME> servers', () => {
  it('takes postgres(ql):// values of BACKUP_* variables that are not settings, by lower-case name, sorted', () => {
    const servers = readServers(
      input({
        BACKUP_DIR: '/backups',
        BACKUP_SCHEDULE: '0 3 * * *',
        BACKUP_DATABASES: 'app',
        BACKUP_ON_START: 'false',
        BACKUP_Prod: 'postgresql://u:p@db1:5432/postgres',
        BACKUP_BILLING: 'postgres://u@db2/postgres',
        BACKUP_NOTE: 'just a note, not ours',
      }),
    );
    expect(servers.map((s) => [s.name, s.variable])).toEqual([
      ['billing', 'BACKUP_BILLING'],
      ['prod', 'BACKUP_Prod'],
    ]);
  });

  it('reads BACKUP_<NAME>_FILE (a URI with a password kept out of the environment)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'servers-unit-'));
    const file = join(dir, 'prod-url');
    writeFileSync(file, 'postgresql://backup:s3cr%40t@db1:5433/postgres\n');
    const [server] = readServers(input({ BACKUP_PROD_FILE: file }));
    expect(server).toMatchObject({ name: 'prod', variable: 'BACKUP_PROD' });
    expect(server!.url.origin).toBe('BACKUP_PROD_FILE');
    const conn = readConnection(input({}), server!.url);
    expect(conn).toMatchObject({ host: 'db1', port: 5433, user: 'backup', password: 's3cr@t' });
    expect(redact('password s3cr@t')).not.toContain('s3cr@t');
    expect(usageError(() => readServers(input({ BACKUP_PROD_FILE: file, BACKUP_PROD: 'postgresql://x@y/z' })))).toMatch(/BACKUP_PROD and BACKUP_PROD_FILE are both set/);
  });

  it('refuses a URI of another scheme, a name twice, and a name with other characters', () => {
    expect(usageError(() => readServers(input({ BACKUP_PROD: 'mysql://u@db/x' })))).toMatch(/^BACKUP_PROD names a server to back up but is not a postgresql:\/\/ URI; e\.g\. BACKUP_PROD=postgresql:\/\//);
    expect(usageError(() => readServers(input({ BACKUP_prod: 'postgresql://a@b/c', BACKUP_PROD: 'postgresql://a@d/c' })))).toMatch(/both name the server "prod"/);
    expect(usageError(() => readServers(input({ 'BACKUP_MY.DB': 'postgresql://a@b/c' })))).toMatch(/server name "MY\.DB"/);
  });

  it('puts each server under <BACKUP_DIR>/<name>, <S3_PREFIX>/<name>, <RSYNC_PATH>/<name>, <RESTORE_DIR>/<name>', () => {
    const env = {
      BACKUP_A: 'postgresql://u@db1/postgres',
      BACKUP_B: 'postgresql://u@db2/postgres',
      BACKUP_DIR: '/srv/backups',
      S3_ENABLED: 'true',
      S3_BUCKET: 'bkt',
      S3_PREFIX: '/pg/',
      RSYNC_ENABLED: 'true',
      RSYNC_HOST: 'h',
      RSYNC_PATH: '/r/',
    };
    const scopes = readServerScopes(input(env));
    expect(scopes.map((s) => s.name)).toEqual(['a', 'b']);
    const b = readBackupSettings(scopes[1]!.input);
    expect(b.local.backupDir).toBe('/srv/backups/b');
    expect(b.s3?.prefix).toBe('pg/b');
    expect(b.remote?.path).toBe('/r/b');
    expect(scopes[1]!.input.env.RESTORE_DIR).toBe('/restore/b');
    // The bucket's top when S3_PREFIX is unset; a flag for BACKUP_DIR is honoured and not a flag any more.
    const [a] = readServerScopes(input({ BACKUP_A: 'postgresql://u@db1/postgres', S3_ENABLED: 'true', S3_BUCKET: 'bkt' }, { 'backup-dir': '/x' }));
    expect(readBackupSettings(a!.input).s3?.prefix).toBe('a');
    expect(readBackupSettings(a!.input).local.backupDir).toBe('/x/a');
    expect(a!.input.defaulted?.has('BACKUP_DIR')).toBe(false);
  });

  it('keeps the libpq server without a name and today\'s layout', () => {
    const [scope, ...rest] = readServerScopes(input({ PGHOST: 'db', BACKUP_DIR: '/b' }));
    expect(rest).toEqual([]);
    expect(scope!.name).toBeUndefined();
    expect(readBackupSettings(scope!.input).local.backupDir).toBe('/b');
  });

  it('a server URI fills in over PGUSER/PGPASSWORD like libpq, but PGHOST or DATABASE_URL beside it is refused for a backup', () => {
    const env = { BACKUP_A: 'postgresql://db1:6000/postgres', PGUSER: 'backup', PGPASSWORD: 'pw' };
    const [scope] = readServerScopes(input(env));
    expect(backupConnection(scope!)).toMatchObject({ host: 'db1', port: 6000, user: 'backup', password: 'pw' });
    const [withHost] = readServerScopes(input({ ...env, PGHOST: 'other' }));
    expect(usageError(() => backupConnection(withHost!))).toMatch(/^PGHOST is set, and BACKUP_A names the server a to back up/);
    // A restore goes to PGHOST when given: restoring into another server.
    expect(restoreConnection(withHost!)).toMatchObject({ host: 'other' });
    expect(restoreConnection(scope!)).toMatchObject({ host: 'db1' });
  });

  it('--server picks one; an unknown name is refused naming the servers; verify/restore need one of several', () => {
    const env = { BACKUP_A: 'postgresql://u@db1/postgres', BACKUP_B: 'postgresql://u@db2/postgres' };
    expect(readServerScopes(input(env), { only: 'B' }).map((s) => s.name)).toEqual(['b']);
    expect(usageError(() => readServerScopes(input(env), { only: 'c' }))).toMatch(/--server=c: no server of that name; the servers are a, b/);
    expect(usageError(() => readOneServerScope(input(env), { onlyOrigin: 'RESTORE_SERVER' }))).toMatch(/several servers are configured \(a, b\); name one with RESTORE_SERVER/);
    // Without any BACKUP_<NAME>, a name still reads that folder (a machine that only restores).
    const [folder] = readServerScopes(input({ BACKUP_DIR: '/b' }), { only: 'prod', folderOnly: true });
    expect(folder!.name).toBe('prod');
    expect(readBackupSettings(folder!.input).local.backupDir).toBe('/b/prod');
    expect(folder!.input.defaulted?.has('BACKUP_DIR')).toBe(false);
    expect(usageError(() => readServerScopes(input({}), { only: 'prod' }))).toMatch(/name it with BACKUP_PROD=postgresql:\/\//);
  });
});
