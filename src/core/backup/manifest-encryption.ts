// The "encryption" field of a manifest: how the backup's files were encrypted (age), and to which
// public keys. Never a passphrase or a private key.
export interface ManifestEncryption {
  format: 'age';
  mode: 'recipients' | 'passphrase';
  /** The age public keys (age1...) of mode "recipients". */
  recipients?: string[];
}

const RECIPIENT = /^age1[02-9ac-hj-np-z]{58}$/;

/** Why a manifest's "encryption" is not one pg-backups writes, or undefined. */
export function encryptionProblem(e: unknown): string | undefined {
  const wrong = `has a wrong "encryption" (${JSON.stringify(e)?.slice(0, 80)}): it must be {format: "age", mode: "recipients" with its public keys, or "passphrase"}`;
  if (typeof e !== 'object' || e === null || Array.isArray(e)) return wrong;
  const x = e as Record<string, unknown>;
  if (x.format !== 'age') return wrong;
  if (x.mode === 'passphrase') return x.recipients === undefined ? undefined : wrong;
  if (x.mode !== 'recipients' || !Array.isArray(x.recipients) || x.recipients.length === 0 || x.recipients.length > 1000) return wrong;
  if (!x.recipients.every((r) => typeof r === 'string' && RECIPIENT.test(r))) return wrong;
  return undefined;
}
