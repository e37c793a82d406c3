// A seed 002 file has no checksum, and CBC (its encryption) no authentication: a damaged byte in
// its middle can reach the SQL rewriter or psql as garbage before gunzip can tell (the gzip CRC
// comes at the end of the stream), and the restore then fails as if the SQL were refused (exit 1).
// After such a failure the file is read once more, whole (decrypted, gunzipped, pg_dump's closing
// line checked, as `verify` does); when that finds damage, damage is the verdict (exit 3), with what
// the failed restore left behind. Only on the failure path: a good restore reads the file once.
import { ExternalError, VerificationError, messageOf } from '../errors.js';
import type { BackupEntry, BackupSource } from '../source.js';
import { verifyBackup } from '../verify.js';

/** The error a failed restore of a seed 002 file ends with: `err`, or the damage found in the file. */
export async function singleRestoreFailure(source: BackupSource, entry: BackupEntry, err: unknown, signal: AbortSignal): Promise<unknown> {
  if (!entry.single || !(err instanceof ExternalError) || signal.aborted) return err;
  let problems: string[];
  try {
    const report = await verifyBackup(source, entry, { signal });
    if (report.ok) return err;
    problems = report.problems;
  } catch {
    return err; // the source cannot be read again: the restore's own failure stands
  }
  return new VerificationError(`${entry.folder} on ${source.kind} ${source.location} is damaged (${problems.join('; ')}), which stopped the restore: ${messageOf(err)}`);
}
