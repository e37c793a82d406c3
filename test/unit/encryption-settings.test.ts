// The encryption settings and the manifest's "encryption" field: pure logic, no server.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { readBackupEncryption, readDecryptionKeys, readRecipients } from '../../src/core/settings/encryption.js';
import { encryptionProblem } from '../../src/core/backup/manifest-encryption.js';
import { manifestProblem } from '../../src/core/backup/manifest.js';
import { redact } from '../../src/core/secrets.js';
import { makeTempDir } from '../helpers/tmp.js';

const PUB1 = 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p';
const PUB2 = 'age1lggyhqrw2nlhcxprm67z43rta597azn8gknawjehu9d9dl0jq3yqqvfafg';
const SECRET = 'AGE-SECRET-KEY-1PTKNJGRMDWDEMX72SE8CD7N3W3JK2H6M7L5CYWTQTFTLK036LA0S0GK5V8'; // made by age-keygen for this test only
const input = (env: Record<string, string>) => ({ env, flags: {} });
const usage = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error('no UsageError');
};

describe('encryption settings', () => {
  it('takes recipients inline (commas, blanks) or from a file with comments', async () => {
    expect(readRecipients(input({ BACKUP_ENCRYPTION_RECIPIENTS: `${PUB1}, ${PUB2}` }))).toEqual([PUB1, PUB2]);
    expect(readRecipients(input({ BACKUP_ENCRYPTION_RECIPIENTS: `${PUB1} ${PUB1}` }))).toEqual([PUB1]);
    const dir = await makeTempDir('enc-settings-');
    const file = join(dir, 'recipients.txt');
    writeFileSync(file, `# keys\n${PUB1}   # ops\n\n${PUB2}\n`);
    expect(readRecipients(input({ BACKUP_ENCRYPTION_RECIPIENTS: file }))).toEqual([PUB1, PUB2]);
    expect(readBackupEncryption(input({ BACKUP_ENCRYPTION_RECIPIENTS: PUB1 }))).toEqual({ mode: 'recipients', recipients: [PUB1] });
    expect(readBackupEncryption(input({}))).toBeUndefined();
  });

  it('refuses bad keys, a private key (without showing it), both modes, and a passphrase mode without key', () => {
    expect(usage(() => readRecipients(input({ BACKUP_ENCRYPTION_RECIPIENTS: `${PUB1},age1bad` })))).toMatch(/holds "age1bad", not an age X25519 public key; give public keys such as age1/);
    const leaked = usage(() => readRecipients(input({ BACKUP_ENCRYPTION_RECIPIENTS: SECRET })));
    expect(leaked).toMatch(/holds a private key/);
    expect(leaked).not.toContain(SECRET);
    expect(redact(`x ${SECRET} y`)).not.toContain(SECRET);
    expect(usage(() => readBackupEncryption(input({ BACKUP_ENCRYPTION_RECIPIENTS: PUB1, BACKUP_ENCRYPTION: 'true', BACKUP_ENCRYPTION_KEY: 'p' })))).toMatch(/both set/);
    expect(usage(() => readBackupEncryption(input({ BACKUP_ENCRYPTION: 'true' })))).toMatch(/BACKUP_ENCRYPTION=true needs BACKUP_ENCRYPTION_KEY/);
    expect(readBackupEncryption(input({ BACKUP_ENCRYPTION: 'true', BACKUP_ENCRYPTION_KEY: 'a-long-passphrase' }))).toEqual({ mode: 'passphrase', passphrase: 'a-long-passphrase' });
    expect(redact('a-long-passphrase')).not.toContain('a-long-passphrase');
  });

  it('reads identity files, and refuses one that is not (without showing it)', async () => {
    const dir = await makeTempDir('enc-identity-');
    const good = join(dir, 'key.txt');
    writeFileSync(good, `# created: 2025-01-01\n# public key: ${PUB1}\n${SECRET}\n`);
    expect(readDecryptionKeys(input({ RESTORE_IDENTITY_FILE: good })).identities).toEqual([SECRET]);
    const bad = join(dir, 'bad.txt');
    writeFileSync(bad, `${PUB1}\n`);
    const m = usage(() => readDecryptionKeys(input({ RESTORE_IDENTITY_FILE: bad })));
    expect(m).toMatch(/RESTORE_IDENTITY_FILE=.* is not an age identity file/);
    expect(m).not.toContain(PUB1);
    expect(usage(() => readDecryptionKeys(input({ RESTORE_IDENTITY_FILE: join(dir, 'none') })))).toMatch(/RESTORE_IDENTITY_FILE: cannot read/);
    expect(readDecryptionKeys(input({ BACKUP_ENCRYPTION_KEY: 'pass-phrase' })).passphrase).toBe('pass-phrase');
  });
});

describe('the manifest field "encryption"', () => {
  it('accepts what pg-backups writes, and refuses anything else', () => {
    expect(encryptionProblem({ format: 'age', mode: 'recipients', recipients: [PUB1] })).toBeUndefined();
    expect(encryptionProblem({ format: 'age', mode: 'passphrase' })).toBeUndefined();
    for (const bad of [null, 'age', { format: 'gpg', mode: 'passphrase' }, { format: 'age', mode: 'recipients', recipients: [] }, { format: 'age', mode: 'recipients', recipients: ['x'] }, { format: 'age', mode: 'passphrase', recipients: [PUB1] }]) {
      expect(encryptionProblem(bad), JSON.stringify(bad)).toMatch(/wrong "encryption"/);
    }
  });

  it('wants .age names in an encrypted manifest, plain ones otherwise', () => {
    const base = {
      format: 'pg-backups/1',
      tool: { name: 'pg-backups', version: '0.3.0' },
      folder: '20250101_120000',
      startedAt: '2025-01-01T12:00:00.000Z',
      finishedAt: '2025-01-01T12:00:01.000Z',
      server: { version: '15.8', versionNum: 150008, major: 15 },
      pgDump: { version: '15.8', major: 15 },
      compression: { format: 'gzip', level: 6 },
      dumpFormat: 'plain',
      rolePasswords: true,
      databases: ['app'],
      clusterDatabases: ['app'],
    };
    const files = (suffix: string) => [
      { name: `postgres_cluster.sql.gz${suffix}`, kind: 'cluster', bytes: 1, sha256: 'a'.repeat(64) },
      { name: `postgres_globals.sql.gz${suffix}`, kind: 'globals', bytes: 1, sha256: 'a'.repeat(64) },
      { name: `postgres_db_app.sql.gz${suffix}`, kind: 'database', database: 'app', bytes: 1, sha256: 'a'.repeat(64) },
    ];
    const encryption = { format: 'age', mode: 'recipients', recipients: [PUB1] };
    expect(manifestProblem({ ...base, files: files('') })).toBeUndefined();
    expect(manifestProblem({ ...base, encryption, files: files('.age') })).toBeUndefined();
    expect(manifestProblem({ ...base, encryption, files: files('') })).toMatch(/it is postgres_cluster\.sql\.gz\.age/);
    expect(manifestProblem({ ...base, files: files('.age') })).toMatch(/it is postgres_cluster\.sql\.gz$/);
  });
});
