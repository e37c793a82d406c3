// The backup variants both benchmarks measure beside the plain backup: age encryption (an X25519
// recipient, or seed 002's passphrase mode) and pg_dump's custom format (BACKUP_FORMAT=custom). Keys
// made for the run, and the checks that a finished backup folder really is what its settings asked
// for: a setting pg-backups ignored must fail the benchmark, not measure a plain backup twice.
import { closeSync, existsSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { constants, gunzipSync } from 'node:zlib';
import { filesOf } from './util.mjs';

const AGE_MAGIC = 'age-encryption.org/v1\n';
const CUSTOM_MAGIC = 'PGDMP';
export const MANIFEST = 'manifest.json';

/**
 * An age X25519 key pair for the run (age-encryption, the library pg-backups encrypts with): the
 * identity is written to `identityFile` (mode 0600) unless one is there already (a kept work dir
 * reuses its key: the kept backup was encrypted to it); returns the identity file and its recipient.
 */
export async function ageKeyPair(identityFile) {
  const { generateX25519Identity, identityToRecipient } = await import('age-encryption');
  if (!existsSync(identityFile)) {
    const identity = await generateX25519Identity();
    writeFileSync(identityFile, `# pg-backups benchmark key, made ${new Date().toISOString()}\n${identity}\n`, { mode: 0o600 });
  }
  const identity = readFileSync(identityFile, 'utf8').split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-1'));
  if (!identity) throw new Error(`${identityFile} holds no age identity (AGE-SECRET-KEY-1...)`);
  return { identityFile, recipient: await identityToRecipient(identity) };
}

/** A random passphrase for seed 002's passphrase mode (BACKUP_ENCRYPTION=true). */
export const benchPassphrase = () => randomBytes(24).toString('base64');

function head(path, n) {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    return buf.subarray(0, readSync(fd, buf, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}
/** Whether a file is a pg_dump custom-format archive (also if pg-backups gzipped it around). */
function isCustomArchive(path) {
  let b = head(path, 64 * 1024);
  if (b[0] === 0x1f && b[1] === 0x8b) b = gunzipSync(b, { finishFlush: constants.Z_SYNC_FLUSH });
  return b.subarray(0, CUSTOM_MAGIC.length).toString('latin1') === CUSTOM_MAGIC;
}
function manifestOf(folder) {
  try {
    return JSON.parse(readFileSync(join(folder, MANIFEST), 'utf8'));
  } catch (err) {
    throw new Error(`${folder}: no readable ${MANIFEST} (${err.message})`);
  }
}
const sum = (entries) => entries.reduce((a, [, n]) => a + n, 0);

/**
 * Checks a finished backup folder against the variant its settings asked for, and returns its
 * databases' files: { count, bytes }. `plain`: gzip files, not encrypted; `age` / `passphrase`:
 * every file but the manifest an age stream named `.age`, the manifest's encryption mode as asked;
 * `custom`: the manifest says dumpFormat custom and at least `databases` files are pg_dump custom
 * archives. Throws (naming the folder and what it found) otherwise.
 */
export function checkVariant(variant, folder, { databases = 1 } = {}) {
  const files = [...filesOf(folder)].filter(([name]) => name !== MANIFEST);
  const manifest = manifestOf(folder);
  const dbFiles = files.filter(([name]) => name.startsWith('postgres_db_'));
  const fail = (what) => {
    throw new Error(`${variant} backup ${folder}: ${what}; files: ${files.map(([n]) => n).join(', ') || 'none'}`);
  };
  if (variant === 'age' || variant === 'passphrase') {
    const wantMode = variant === 'age' ? 'recipients' : 'passphrase';
    const plain = files.filter(([name]) => !name.endsWith('.age') || head(join(folder, name), AGE_MAGIC.length).toString('latin1') !== AGE_MAGIC);
    if (plain.length) fail(`not encrypted with age: ${plain.map(([n]) => n).join(', ')}`);
    const mode = manifest.encryption?.mode;
    if (mode !== wantMode) fail(`the manifest's encryption is ${JSON.stringify(manifest.encryption)}, not mode ${wantMode}`);
  } else if (variant === 'custom') {
    if (manifest.dumpFormat !== 'custom') fail(`the manifest's dumpFormat is ${JSON.stringify(manifest.dumpFormat)}, not "custom" (is BACKUP_FORMAT=custom implemented in this build?)`);
    const archives = dbFiles.filter(([name]) => isCustomArchive(join(folder, name)));
    if (archives.length < databases) fail(`${archives.length} pg_dump custom-format archives (PGDMP), ${databases} databases`);
    return { count: archives.length, bytes: sum(archives) };
  } else if (variant === 'plain') {
    if (manifest.encryption) fail('encrypted, though no encryption was asked for');
    if (manifest.dumpFormat !== undefined && manifest.dumpFormat !== 'plain') fail(`the manifest's dumpFormat is ${JSON.stringify(manifest.dumpFormat)}, not "plain"`);
  } else throw new Error(`unknown backup variant ${variant}`);
  return { count: dbFiles.length, bytes: sum(dbFiles) };
}
