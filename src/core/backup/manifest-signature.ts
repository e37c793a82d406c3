// Signed manifests (BACKUP_SIGNING_KEY, RESTORE_VERIFY_KEY): an Ed25519 signature embedded in
// manifest.json as its last field, "signature", over the manifest's own bytes without that field.
//
// Format: the signed bytes are exactly what serializeManifest() writes for the manifest with no
// "signature" field (JSON, two-space indent, a final newline): `jq 'del(.signature)' manifest.json`
// gives them back byte for byte. The signature is
//   "signature": { "algorithm": "ed25519", "key": "sha256:<hex of the public key's DER>", "value": "<base64>" }
// Embedded, not a file beside the manifest: manifest.json stays the one file written last (a folder
// is finished when it has one), nothing more to ship or delete, and the signature goes wherever the
// manifest goes. Every backup file is bound to the signature through its sha256 in "files".
//
// A manifest is checked against the parsed object re-serialized, never against its raw text: what is
// verified is then exactly what the restore uses (extra fields, reordered ones, any edit: a mismatch).
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { serializeManifest, type Manifest } from './manifest.js';

export const SIGNATURE_ALGORITHM = 'ed25519';

export interface ManifestSignature {
  algorithm: typeof SIGNATURE_ALGORITHM;
  /** Which key signed: "sha256:" and the hex sha256 of its public key (SubjectPublicKeyInfo, DER). */
  key: string;
  /** The 64-byte Ed25519 signature, base64. */
  value: string;
}

/** The key id of a public key (or of the public half of a private one): sha256:<hex of its SPKI DER>. */
export function keyId(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return `sha256:${createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('hex')}`;
}

/** The bytes a signature covers: the manifest as serializeManifest() writes it, without "signature". */
export function signedBytes(manifest: Manifest): Buffer {
  const { signature: _ignored, ...rest } = manifest;
  return Buffer.from(serializeManifest(rest as Manifest), 'utf8');
}

/** The manifest with its signature as last field (any earlier one replaced). */
export function signManifest(manifest: Manifest, privateKey: KeyObject): Manifest {
  const { signature: _old, ...rest } = manifest;
  const value = sign(null, signedBytes(rest as Manifest), privateKey).toString('base64');
  return { ...(rest as Manifest), signature: { algorithm: SIGNATURE_ALGORITHM, key: keyId(privateKey), value } };
}

/**
 * Why the manifest is not signed by one of `publicKeys` (to follow "manifest.json "), or undefined
 * when it is: "is not signed, ...", "is signed by another key (...)", "does not match its signature ...".
 */
export function signatureProblem(manifest: Manifest, publicKeys: readonly KeyObject[]): string | undefined {
  const sig = manifest.signature;
  if (!sig) return 'is not signed, and RESTORE_VERIFY_KEY requires a signature';
  const publicKey = publicKeys.find((k) => keyId(k) === sig.key);
  if (!publicKey) {
    const ours = publicKeys.map(keyId).join(', ');
    return `is signed by another key (${sig.key}), not by ${publicKeys.length === 1 ? 'the key' : 'a key'} of RESTORE_VERIFY_KEY (${ours})`;
  }
  const value = Buffer.from(sig.value, 'base64');
  let ok = false;
  try {
    ok = value.length === 64 && verify(null, signedBytes(manifest), publicKey, value);
  } catch {
    ok = false;
  }
  if (!ok) return 'does not match its signature by RESTORE_VERIFY_KEY: it was changed after it was signed';
  return undefined;
}

/** Why a manifest's "signature" field is malformed, or undefined (for parseManifest's schema check). */
export function signatureShapeProblem(v: unknown): string | undefined {
  const shown = () => {
    const text = JSON.stringify(v) ?? String(v);
    return text.length > 60 ? `${text.slice(0, 57)}...` : text;
  };
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return `has a wrong "signature" (${shown()}): it must be an object with algorithm, key and value`;
  const s = v as Record<string, unknown>;
  if (s.algorithm !== SIGNATURE_ALGORITHM) return `has a wrong "signature" (${shown()}): its algorithm must be "${SIGNATURE_ALGORITHM}"`;
  if (typeof s.key !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(s.key)) return `has a wrong "signature" (${shown()}): its key must be sha256: and 64 hex digits`;
  if (typeof s.value !== 'string' || !/^[A-Za-z0-9+/]{86}==$/.test(s.value)) return `has a wrong "signature" (${shown()}): its value must be 64 bytes in base64`;
  if (Object.keys(s).length !== 3) return `has a wrong "signature" (${shown()}): it holds fields other than algorithm, key and value`;
  return undefined;
}
