// The signature format of manifest.json (src/core/backup/manifest-signature.ts), the settings that
// hold the keys (src/core/settings/signing.ts) and how RESTORE_VERIFY_KEY judges a listed backup
// (src/sources/signed.ts). Keys made with node:crypto here; test/signing.test.ts uses openssl's.
import { describe, expect, it } from 'vitest';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseManifest, serializeManifest, type Manifest } from '../../src/core/backup/manifest.js';
import { keyId, signedBytes, signManifest, signatureProblem } from '../../src/core/backup/manifest-signature.js';
import { UsageError, VerificationError } from '../../src/core/errors.js';
import { readSigningKey, readVerifyKeys } from '../../src/core/settings/signing.js';
import type { BackupEntry } from '../../src/core/source.js';
import { checkSignature } from '../../src/sources/signed.js';
import { folderFiles } from '../helpers/fake-backup.js';

const FOLDER = '20250101_120000';
const pair = () => generateKeyPairSync('ed25519');
const keys = pair();
const other = pair();
const pem = (k: KeyObject) => k.export({ type: k.type === 'private' ? 'pkcs8' : 'spki', format: 'pem' }) as string;
const unsigned = (): Manifest => JSON.parse(folderFiles(FOLDER)['manifest.json']!.toString('utf8'));
const input = (env: Record<string, string>) => ({ env, flags: {} });

describe('the signature in manifest.json', () => {
  it('is the last field, over the bytes serializeManifest writes without it', () => {
    const signed = signManifest(unsigned(), keys.privateKey);
    const text = serializeManifest(signed);
    expect(Object.keys(JSON.parse(text)).at(-1)).toBe('signature');
    expect(signed.signature).toEqual({ algorithm: 'ed25519', key: keyId(keys.publicKey), value: expect.stringMatching(/^[A-Za-z0-9+/]{86}==$/) });
    expect(signedBytes(signed).toString('utf8')).toBe(serializeManifest(unsigned()));
    // The key id is the same from either half of the pair.
    expect(keyId(keys.privateKey)).toBe(keyId(keys.publicKey));
  });

  it('survives the round trip through parseManifest and verifies with the public key', () => {
    const parsed = parseManifest(serializeManifest(signManifest(unsigned(), keys.privateKey)), '/backups/x', FOLDER);
    expect(signatureProblem(parsed, [keys.publicKey])).toBeUndefined();
  });

  it('refuses a manifest without signature, one by another key, and any edit after signing', () => {
    expect(signatureProblem(unsigned(), [keys.publicKey])).toMatch(/^is not signed, and RESTORE_VERIFY_KEY requires a signature$/);
    expect(signatureProblem(signManifest(unsigned(), other.privateKey), [keys.publicKey])).toMatch(/^is signed by another key \(sha256:[0-9a-f]{64}\), not by the key of RESTORE_VERIFY_KEY/);

    const edits: Array<(m: Manifest) => void> = [
      (m) => m.databases.push('other'),
      (m) => (m.files[0]!.sha256 = 'a'.repeat(64)),
      (m) => (m.files[0]!.bytes += 1),
      (m) => (m.finishedAt = new Date().toISOString()),
      (m) => Object.assign(m, { extra: true }),
    ];
    for (const edit of edits) {
      const m = structuredClone(signManifest(unsigned(), keys.privateKey));
      edit(m);
      expect(signatureProblem(m, [keys.publicKey])).toMatch(/^does not match its signature by RESTORE_VERIFY_KEY: it was changed after it was signed$/);
    }
    // A signature of another manifest copied over, and one whose key id is claimed but not its own.
    const a = signManifest(unsigned(), keys.privateKey);
    const b = { ...unsigned(), databases: [] as string[] };
    expect(signatureProblem({ ...b, signature: a.signature }, [keys.publicKey])).toMatch(/changed after it was signed/);
    const forged = signManifest(unsigned(), other.privateKey);
    expect(signatureProblem({ ...forged, signature: { ...forged.signature!, key: keyId(keys.publicKey) } }, [keys.publicKey])).toMatch(/changed after it was signed/);
  });

  it('is checked on the object, not the text: reordered or duplicated fields do not match', () => {
    const signed = signManifest(unsigned(), keys.privateKey);
    const { format, ...rest } = signed;
    const reordered = parseManifest(`${JSON.stringify({ ...rest, format }, null, 2)}\n`, '/b', FOLDER);
    expect(signatureProblem(reordered, [keys.publicKey])).toMatch(/changed after it was signed/);
    // Compact JSON of the same object is the same object: it verifies (what is verified is what is used).
    expect(signatureProblem(parseManifest(JSON.stringify(signed), '/b', FOLDER), [keys.publicKey])).toBeUndefined();
  });

  it('a malformed signature field makes the manifest damaged, naming "signature"', () => {
    const good = signManifest(unsigned(), keys.privateKey).signature!;
    const bad: unknown[] = ['x', [], { ...good, algorithm: 'rsa' }, { ...good, key: 'abc' }, { ...good, value: 'AAAA' }, { ...good, more: 1 }];
    for (const signature of bad) {
      const text = serializeManifest({ ...unsigned(), signature } as unknown as Manifest);
      expect(() => parseManifest(text, '/b', FOLDER)).toThrow(VerificationError);
      expect(() => parseManifest(text, '/b', FOLDER)).toThrow(/has a wrong "signature"/);
    }
  });
});

describe('RESTORE_VERIFY_KEY on a listed backup', () => {
  const entry = (manifest?: Manifest, status: BackupEntry['status'] = 'finished'): BackupEntry => ({ folder: FOLDER, time: new Date(), status, manifest, files: [] });

  it('marks a backup signed by the key, and every other one damaged with the reason', () => {
    expect(checkSignature(entry(signManifest(unsigned(), keys.privateKey)), [keys.publicKey])).toMatchObject({ status: 'finished', signedBy: keyId(keys.publicKey) });
    const refused = [
      [entry(unsigned()), /^manifest\.json is not signed/],
      [entry(signManifest(unsigned(), other.privateKey)), /^manifest\.json is signed by another key/],
      [entry({ ...signManifest(unsigned(), keys.privateKey), databases: [] }), /^manifest\.json does not match its signature/],
      [entry(undefined, 'legacy'), /without manifest\.json \(made by the bash tool\) is not signed/],
      [entry(signManifest(unsigned(), other.privateKey), 'incomplete'), /another key/],
    ] as const;
    for (const [e, problem] of refused) {
      const judged = checkSignature(e, [keys.publicKey]);
      expect(judged.status).toBe('damaged');
      expect(judged.problem).toMatch(problem);
      expect(judged.manifest).toBeUndefined(); // nothing of an unsigned manifest is used
      expect(judged.signedBy).toBeUndefined();
    }
    const damaged: BackupEntry = { ...entry(), status: 'damaged', problem: 'not JSON' };
    expect(checkSignature(damaged, [keys.publicKey])).toBe(damaged);
  });
});

describe('the key settings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgb-sigkeys-'));
  const pubFile = join(dir, 'signing.pub');
  writeFileSync(pubFile, pem(keys.publicKey));

  it('read the private key (inline or _FILE) and the public key (inline, a path, or _FILE)', () => {
    const privFile = join(dir, 'signing.pem');
    writeFileSync(privFile, pem(keys.privateKey));
    expect(keyId(readSigningKey(input({ BACKUP_SIGNING_KEY: pem(keys.privateKey) }))!)).toBe(keyId(keys.publicKey));
    expect(keyId(readSigningKey(input({ BACKUP_SIGNING_KEY_FILE: privFile }))!)).toBe(keyId(keys.publicKey));
    expect(readSigningKey(input({}))).toBeUndefined();
    for (const env of [{ RESTORE_VERIFY_KEY: pem(keys.publicKey) }, { RESTORE_VERIFY_KEY: pubFile }, { RESTORE_VERIFY_KEY_FILE: pubFile }]) {
      expect(readVerifyKeys(input(env))!.map(keyId)).toEqual([keyId(keys.publicKey)]);
    }
    expect(readVerifyKeys(input({}))).toBeUndefined();
    // Several keys (a rotation): each one accepted.
    const both = readVerifyKeys(input({ RESTORE_VERIFY_KEY: `${pem(keys.publicKey)}${pem(other.publicKey)}` }))!;
    expect(both.map(keyId)).toEqual([keyId(keys.publicKey), keyId(other.publicKey)]);
    for (const k of [keys, other]) expect(signatureProblem(signManifest(unsigned(), k.privateKey), both)).toBeUndefined();
  });

  it('refuse a bad key with one line naming the setting, never showing the key', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const secretLooking = '-----BEGIN PRIVATE KEY-----\nnot-really-a-key-SECRETBYTES\n-----END PRIVATE KEY-----\n';
    const cases: Array<[() => unknown, RegExp]> = [
      [() => readSigningKey(input({ BACKUP_SIGNING_KEY: 'hunter2' })), /^BACKUP_SIGNING_KEY is not an Ed25519 private key in PEM \(it holds no PEM block\)/],
      [() => readSigningKey(input({ BACKUP_SIGNING_KEY: secretLooking })), /^BACKUP_SIGNING_KEY is not an Ed25519 private key in PEM \(it cannot be read/],
      [() => readSigningKey(input({ BACKUP_SIGNING_KEY: pem(rsa.privateKey) })), /^BACKUP_SIGNING_KEY is not an Ed25519 private key in PEM \(it is a rsa key\)/],
      [() => readSigningKey(input({ BACKUP_SIGNING_KEY: pem(keys.publicKey) })), /^BACKUP_SIGNING_KEY is not an Ed25519 private key/],
      [() => readVerifyKeys(input({ RESTORE_VERIFY_KEY: join(dir, 'missing.pub') })), /^RESTORE_VERIFY_KEY: cannot read .*missing\.pub/],
      [() => readVerifyKeys(input({ RESTORE_VERIFY_KEY: pem(keys.privateKey) })), /^RESTORE_VERIFY_KEY holds a private key; give only its public half/],
      [() => readVerifyKeys(input({ RESTORE_VERIFY_KEY: pem(rsa.publicKey) })), /^RESTORE_VERIFY_KEY is a rsa key, not Ed25519/],
      [() => readVerifyKeys(input({ RESTORE_VERIFY_KEY: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n' })), /^RESTORE_VERIFY_KEY is not an Ed25519 public key in PEM/],
    ];
    for (const [read, message] of cases) {
      let error: unknown;
      try {
        read();
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(UsageError);
      const text = (error as Error).message;
      expect(text).toMatch(message);
      expect(text).not.toContain('\n');
      expect(text).not.toContain('SECRETBYTES');
      expect(text).not.toContain('BEGIN');
      expect(text).toMatch(/openssl/);
    }
  });
});
