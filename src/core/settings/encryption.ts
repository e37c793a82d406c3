// Encryption settings. Backup side: BACKUP_ENCRYPTION_RECIPIENTS (age X25519 public keys, or a file
// of them), or seed 002's passphrase mode (BACKUP_ENCRYPTION=true + BACKUP_ENCRYPTION_KEY, the
// weaker choice). Restore side (restore, verify): RESTORE_IDENTITY_FILE (an age identity file) or
// BACKUP_ENCRYPTION_KEY for backups made with a passphrase. Every key is registered as a secret.
import { readFileSync } from 'node:fs';
import { UsageError, messageOf } from '../errors.js';
import { registerSecret } from '../secrets.js';
import type { DecryptionKeys, EncryptionConfig } from '../encryption/age-stream.js';
import { readBool, readPath, readRaw, type SettingInput } from './read.js';
import { Decrypter, Encrypter } from 'age-encryption';

/** Whether age itself takes a key (its bech32 checksum included). */
function ageTakes(add: () => void): boolean {
  try {
    add();
    return true;
  } catch {
    return false;
  }
}
const parsesAsRecipient = (key: string) => ageTakes(() => new Encrypter().addRecipient(key));
const parsesAsIdentity = (line: string) => ageTakes(() => new Decrypter().addIdentity(line));

const EXAMPLE_RECIPIENT = 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p';
/** A native age X25519 recipient: "age1" and 58 bech32 characters. */
const RECIPIENT = /^age1[02-9ac-hj-np-z]{58}$/;
const IDENTITY = /^AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}$/;

export const ENCRYPTION_SETTING_NAMES = ['BACKUP_ENCRYPTION_RECIPIENTS', 'BACKUP_ENCRYPTION', 'BACKUP_ENCRYPTION_KEY', 'RESTORE_IDENTITY_FILE'];

const KEY_SPEC = { name: 'BACKUP_ENCRYPTION_KEY', secret: true, what: 'the passphrase' };

/** The public keys of BACKUP_ENCRYPTION_RECIPIENTS: given inline, or the path of a file of them. */
export function readRecipients(input: SettingInput): string[] | undefined {
  const raw = readRaw(input, {
    name: 'BACKUP_ENCRYPTION_RECIPIENTS',
    flag: 'backup-encryption-recipients',
    what: 'age public keys (age1...) or the path of a file of them',
    example: EXAMPLE_RECIPIENT,
  });
  if (!raw) return undefined;
  let text = raw.value;
  let from = raw.origin;
  if (/AGE-SECRET-KEY-/i.test(text)) {
    registerSecret(text.trim());
    throw new UsageError(`${raw.origin} holds a private key (AGE-SECRET-KEY-...), which belongs only where restores run; give its public key instead, e.g. ${raw.origin}=${EXAMPLE_RECIPIENT} (age-keygen -y key.txt prints it)`);
  }
  if (!text.trim().startsWith('age1')) {
    try {
      text = readFileSync(text.trim(), 'utf8');
      from = `${raw.origin} (file ${raw.value.trim()})`;
    } catch (err) {
      throw new UsageError(
        `${raw.origin} is neither age public keys nor a readable file (${messageOf(err)}); give keys such as ${raw.origin}=${EXAMPLE_RECIPIENT} (age-keygen -y key.txt prints one) or the path of a file of them, one per line`,
      );
    }
  }
  const keys = text
    .split('\n')
    .map((line) => line.replace(/#.*$/, ''))
    .flatMap((line) => line.split(/[\s,]+/))
    .filter((k) => k !== '');
  if (keys.length === 0) throw new UsageError(`${from} holds no age public key; add one per line, e.g. ${EXAMPLE_RECIPIENT} (age-keygen -y key.txt prints it)`);
  for (const k of keys) if (/^AGE-SECRET-KEY-/i.test(k)) registerSecret(k);
  const bad = keys.find((k) => !RECIPIENT.test(k) || !parsesAsRecipient(k));
  if (bad !== undefined) {
    const shown = bad.startsWith('AGE-SECRET-KEY') ? 'a private key (AGE-SECRET-KEY-...), which belongs only where restores run' : JSON.stringify(bad.length > 70 ? `${bad.slice(0, 67)}...` : bad);
    throw new UsageError(`${from} holds ${shown}, not an age X25519 public key; give public keys such as ${EXAMPLE_RECIPIENT} (age-keygen -y key.txt prints one)`);
  }
  return [...new Set(keys)];
}

/** How a backup run encrypts, or undefined when it does not. */
export function readBackupEncryption(input: SettingInput): EncryptionConfig | undefined {
  const recipients = readRecipients(input);
  const passphraseMode = readBool(input, { name: 'BACKUP_ENCRYPTION', flag: 'backup-encryption' }, false);
  if (recipients && passphraseMode) {
    throw new UsageError(
      'BACKUP_ENCRYPTION_RECIPIENTS and BACKUP_ENCRYPTION=true are both set; choose one: public keys (e.g. BACKUP_ENCRYPTION_RECIPIENTS=age1...) or a passphrase (BACKUP_ENCRYPTION=true with BACKUP_ENCRYPTION_KEY), not both',
    );
  }
  if (recipients) return { mode: 'recipients', recipients };
  if (!passphraseMode) return undefined;
  const key = readRaw(input, KEY_SPEC);
  if (!key) {
    throw new UsageError(
      'BACKUP_ENCRYPTION=true needs BACKUP_ENCRYPTION_KEY, the passphrase; set it, e.g. BACKUP_ENCRYPTION_KEY_FILE=/run/secrets/backup_key (or use BACKUP_ENCRYPTION_RECIPIENTS=age1..., the stronger choice)',
    );
  }
  return { mode: 'passphrase', passphrase: key.value };
}

/** The keys restore and verify decrypt with: RESTORE_IDENTITY_FILE and/or BACKUP_ENCRYPTION_KEY. */
export function readDecryptionKeys(input: SettingInput): DecryptionKeys {
  const out: DecryptionKeys = { identities: [] };
  const origins: string[] = [];
  const path = readPath(input, { name: 'RESTORE_IDENTITY_FILE', what: 'the path of an age identity file', example: '/keys/backup-key.txt' });
  if (path !== undefined) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new UsageError(`RESTORE_IDENTITY_FILE: cannot read ${path}: ${messageOf(err)}; point it at the age identity file made by age-keygen, e.g. RESTORE_IDENTITY_FILE=/keys/backup-key.txt`);
    }
    const lines = text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    for (const line of lines) registerSecret(line);
    const bad = lines.findIndex((l) => !IDENTITY.test(l) || !parsesAsIdentity(l));
    if (lines.length === 0 || bad >= 0) {
      throw new UsageError(
        `RESTORE_IDENTITY_FILE=${path} is not an age identity file (${lines.length === 0 ? 'no key in it' : `line ${bad + 1} of its keys is not AGE-SECRET-KEY-1...`}); make one with age-keygen -o key.txt and point RESTORE_IDENTITY_FILE at it, e.g. RESTORE_IDENTITY_FILE=/keys/backup-key.txt`,
      );
    }
    out.identities = lines;
    origins.push(`RESTORE_IDENTITY_FILE=${path}`);
  }
  const key = readRaw(input, KEY_SPEC);
  if (key) {
    out.passphrase = key.value;
    origins.push(key.origin);
  }
  out.origin = origins.join(', ') || undefined;
  return out;
}
