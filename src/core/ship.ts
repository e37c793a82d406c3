// Shipping a finished local backup to every enabled destination. Destinations work in parallel and
// independently: one failing never stops the others, and each outcome names its destination.
import type { Manifest } from './backup/manifest.js';
import { AbortedError, messageOf } from './errors.js';
import { redact } from './secrets.js';
import type { Destination, PushProgress } from './source.js';

export interface ShipOutcome {
  destination: Destination;
  ok: boolean;
  /** One line naming the destination and the step, when it failed. */
  error?: string;
}

export async function shipBackup(
  localPath: string,
  manifest: Manifest,
  destinations: Destination[],
  opts: {
    signal: AbortSignal;
    onProgress?: (destination: Destination, progress: PushProgress) => void;
    onRetry?: (destination: Destination, message: string) => void;
    /** As soon as one destination is done (the others may still be going). */
    onDone?: (outcome: ShipOutcome) => void;
  },
): Promise<ShipOutcome[]> {
  const outcomes = await Promise.all(
    destinations.map(async (destination): Promise<ShipOutcome> => {
      const outcome = await shipOne(destination);
      opts.onDone?.(outcome);
      return outcome;
    }),
  );
  if (opts.signal.aborted) throw new AbortedError(`stopped while shipping ${manifest.folder}`);
  return outcomes;

  async function shipOne(destination: Destination): Promise<ShipOutcome> {
    try {
      await destination.push(localPath, manifest, {
        signal: opts.signal,
        onProgress: (p) => opts.onProgress?.(destination, p),
        onRetry: (m) => opts.onRetry?.(destination, m),
      });
      return { destination, ok: true };
    } catch (err) {
      const text = messageOf(err);
      const named = text.includes(destination.kind === 's3' ? 'S3' : 'remote') ? text : `${destination.kind} ${destination.location}: ${text}`;
      return { destination, ok: false, error: redact(`upload to ${destination.kind === 's3' ? 'S3' : 'the remote host'} failed: ${named}`) };
    }
  }
}
