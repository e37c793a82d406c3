// RESTORE_VERIFY_KEY on a source: every listed backup whose manifest is not signed by that key is
// "damaged", with the reason as its problem. list shows it so, verify fails it (exit 3), restore
// refuses it (exit 3) and "latest" passes over it, the same way as any damaged backup. Folders
// without manifest (the bash tool's legacy backups) cannot be signed: damaged too.
import type { KeyObject } from 'node:crypto';
import { signatureProblem } from '../core/backup/manifest-signature.js';
import { MANIFEST_FILE } from '../core/backup/names.js';
import type { BackupEntry, BackupSource } from '../core/source.js';

/** The entry as RESTORE_VERIFY_KEY judges it: signed (signedBy set) or damaged. */
export function checkSignature(entry: BackupEntry, keys: readonly KeyObject[]): BackupEntry {
  if (entry.status === 'damaged' || entry.status === 'foreign') return entry;
  const refused = (problem: string): BackupEntry => ({ folder: entry.folder, time: entry.time, status: 'damaged', problem, files: entry.files });
  if (entry.single) return refused(`a seed 002 file has no ${MANIFEST_FILE}, so it is not signed, and RESTORE_VERIFY_KEY requires a signature`);
  if (entry.status === 'legacy' || !entry.manifest) {
    return refused(`a folder without ${MANIFEST_FILE} (made by the bash tool) is not signed, and RESTORE_VERIFY_KEY requires a signature`);
  }
  const problem = signatureProblem(entry.manifest, keys);
  if (problem) return refused(`${MANIFEST_FILE} ${problem}`);
  return { ...entry, signedBy: entry.manifest.signature!.key };
}

/** Makes `source` list its backups as checkSignature() judges them (in place; returns it). */
export function requireSignatures<S extends BackupSource>(source: S, keys: readonly KeyObject[]): S {
  const list = source.list.bind(source);
  source.list = async (signal?: AbortSignal) => (await list(signal)).map((entry) => checkSignature(entry, keys));
  return source;
}
