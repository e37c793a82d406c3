// The S3 step's test: put a small probe object under the prefix, delete it again and check it is
// gone, with exactly the client the backups use (S3Store), without retries (the person is waiting).
import { randomBytes } from 'node:crypto';
import { AbortedError, ExternalError } from '../errors.js';
import { redact } from '../secrets.js';
import type { S3Settings } from '../settings/destinations.js';
import { describeS3Error } from '../../sources/s3-errors.js';
import { S3Store } from '../../sources/s3-store.js';

export const PROBE_PREFIX = '.pg-backups-init-probe-';

/** Returns the probe's key (already deleted again); throws one line on failure. */
export async function probeS3(settings: S3Settings, signal: AbortSignal): Promise<string> {
  const store = new S3Store({ ...settings, retry: { attempts: 0, delayMs: 0 } });
  const key = `${settings.prefix ? `${settings.prefix}/` : ''}${PROBE_PREFIX}${randomBytes(6).toString('hex')}`;
  let step = 'write a probe object';
  try {
    await store.putSmall(key, 'written by pg-backups init to test access; deleted at once\n', 'text/plain', {}, signal);
    step = 'delete the probe object';
    await store.deleteKeysOnce([key], signal);
    step = 'check that the probe object is gone';
    if ((await store.readText(key, signal)) !== undefined) throw new ExternalError(`the probe object ${key} is still there after it was deleted`);
    return key;
  } catch (err) {
    if (signal.aborted) throw new AbortedError('stopped while testing S3');
    if (err instanceof ExternalError) throw new ExternalError(redact(`S3 ${store.location}: ${err.message}`));
    throw new ExternalError(redact(`S3 ${store.location}: cannot ${step} (${key}): ${describeS3Error(err, settings)}`));
  } finally {
    store.destroy();
  }
}
