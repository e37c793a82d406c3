// BACKUP_SIGNING_KEY (the backup side: an Ed25519 private key, a secret) and RESTORE_VERIFY_KEY (the
// restore side: its public key, not a secret). Both in PEM, as openssl writes them:
//   openssl genpkey -algorithm ed25519 -out backup-signing.pem
//   openssl pkey -in backup-signing.pem -pubout -out backup-signing.pub
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { UsageError, messageOf } from '../errors.js';
import { readRaw, type SettingInput } from './read.js';

const GENERATE = 'openssl genpkey -algorithm ed25519 -out backup-signing.pem';

/** The key that signs manifests, or undefined when BACKUP_SIGNING_KEY is not set. */
export function readSigningKey(input: SettingInput): KeyObject | undefined {
  const raw = readRaw(input, { name: 'BACKUP_SIGNING_KEY', secret: true, what: 'an Ed25519 private key in PEM' });
  if (!raw) return undefined;
  const bad = (why: string) =>
    new UsageError(`${raw.origin} is not an Ed25519 private key in PEM (${why}); make one with \`${GENERATE}\` and set BACKUP_SIGNING_KEY_FILE=/run/secrets/backup-signing.pem`);
  if (!raw.value.includes('-----BEGIN')) throw bad('it holds no PEM block');
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: raw.value, format: 'pem' });
  } catch {
    throw bad('it cannot be read as a private key'); // never the key or the library's message about it
  }
  if (key.asymmetricKeyType !== 'ed25519') throw bad(`it is a ${key.asymmetricKeyType ?? 'unknown'} key`);
  return key;
}

/**
 * The keys a manifest may be signed with, or undefined when RESTORE_VERIFY_KEY is not set: the PEM
 * text itself, or the path of a file holding it (RESTORE_VERIFY_KEY_FILE works too). Several public
 * keys one after the other (old and new, while a signing key is rotated) are all accepted.
 */
export function readVerifyKeys(input: SettingInput): KeyObject[] | undefined {
  const raw = readRaw(input, { name: 'RESTORE_VERIFY_KEY', what: 'an Ed25519 public key in PEM, or its file', example: '/etc/pg-backups/backup-signing.pub' });
  if (!raw) return undefined;
  const example = `${raw.origin}=/etc/pg-backups/backup-signing.pub`;
  const make = 'make it with `openssl pkey -in backup-signing.pem -pubout -out backup-signing.pub`';
  let text = raw.value;
  if (!text.includes('-----BEGIN')) {
    try {
      text = readFileSync(text.trim(), 'utf8');
    } catch (err) {
      throw new UsageError(`${raw.origin}: cannot read ${text.trim()} (${messageOf(err)}); give the public key's PEM or its file, e.g. ${example}; ${make}`);
    }
  }
  if (text.includes('PRIVATE KEY')) {
    throw new UsageError(`${raw.origin} holds a private key; give only its public half (the private key stays on the backup side), e.g. ${example}; ${make}`);
  }
  const blocks = text.match(/-----BEGIN [A-Z ]+-----[\s\S]*?-----END [A-Z ]+-----/g) ?? [];
  if (blocks.length === 0) throw new UsageError(`${raw.origin} is not an Ed25519 public key in PEM (no PEM block); give the public key's PEM or its file, e.g. ${example}; ${make}`);
  return blocks.map((block, i) => {
    const which = blocks.length > 1 ? ` (key ${i + 1} of ${blocks.length})` : '';
    let key: KeyObject;
    try {
      key = createPublicKey({ key: block, format: 'pem' });
    } catch {
      throw new UsageError(`${raw.origin} is not an Ed25519 public key in PEM${which}; give the public key's PEM or its file, e.g. ${example}; ${make}`);
    }
    if (key.asymmetricKeyType !== 'ed25519') throw new UsageError(`${raw.origin} is a ${key.asymmetricKeyType ?? 'unknown'} key${which}, not Ed25519; e.g. ${example}; ${make}`);
    return key;
  });
}
