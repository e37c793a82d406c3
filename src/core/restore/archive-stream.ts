// A custom-format archive (pg_dump -Fc) turned into the SQL script `pg_restore --create -f -` writes:
// the same script a plain `pg_dump --create` would have written, which then takes the plain
// restore's road (SqlRewriter onto the staging database, psql). One pass: the archive's bytes come
// from their source through the checks (and decryption) into pg_restore's stdin.
//
// pg_restore may stop reading before the archive's last byte (its end holds nothing it needs): the
// rest is still read and thrown away, so the size and sha256 checks upstream see the whole file.
// pg_restore failing to read the archive is damage (exit 3): its version was chosen from the
// manifest, so it can read any archive that pg_dump wrote.
import type { Readable, Writable } from 'node:stream';
import { drained } from '../process/drained.js';
import { AbortedError, VerificationError } from '../errors.js';
import type { ClientTools } from '../postgres/client-tools.js';
import { startTool } from '../process/run-tool.js';

export interface ArchiveToSql {
  tools: ClientTools;
  /** The file, for messages. */
  label: string;
  /** More pg_restore options, e.g. ['--use-list=FILE']. */
  args?: string[];
  /** pg_restore reads this file itself (seekable, already checked) instead of its stdin. */
  path?: string;
  signal: AbortSignal;
}

/** A pipeline stage: archive bytes in, SQL out. */
export function archiveToSql(opts: ArchiveToSql): (source: AsyncIterable<Buffer>) => AsyncGenerator<Buffer> {
  return async function* convert(source) {
    const proc = startTool({
      command: opts.tools.path('pg_restore'),
      args: ['--create', '--file=-', ...(opts.args ?? []), ...(opts.path ? [opts.path] : [])],
      label: `pg_restore (reading ${opts.label})`,
      signal: opts.signal,
      stdin: opts.path ? 'ignore' : 'pipe',
    });
    let stopped = false;
    let feedError: unknown;
    const feeding = opts.path ? drain(source, () => stopped) : feed(source, proc.stdin!, () => stopped);
    feeding.catch((err) => {
      feedError = err;
      proc.kill(); // the input failed (damage, a stop): pg_restore must not finish a partial script
    });
    let ended = false;
    try {
      yield* proc.stdout as Readable & AsyncIterable<Buffer>;
      try {
        await proc.done;
      } catch (err) {
        // The input failed first (damage found by the checks, a stop): that is what happened.
        stopped = true;
        if (feedError !== undefined) throw feedError;
        if (err instanceof AbortedError || opts.signal.aborted) throw err;
        throw new VerificationError(`${opts.label} is damaged: pg_restore cannot read it (${proc.stderrText().trim().split('\n').slice(-2).join(' | ') || (err as Error).message})`);
      }
      ended = true;
      await feeding.catch(() => {}); // the rest of the input, for the size and sha256 checks
      if (feedError !== undefined) throw feedError;
    } finally {
      stopped = true;
      if (!ended) {
        proc.kill();
        await proc.done.catch(() => {});
      }
    }
  };
}

/** Feeds pg_restore's stdin; once pg_restore is gone, reads the rest of the input without it. */
async function feed(source: AsyncIterable<Buffer>, stdin: Writable, stopped: () => boolean): Promise<void> {
  stdin.on('error', () => {}); // EPIPE once pg_restore has read what it needs
  for await (const chunk of source) {
    if (stopped()) return;
    if (stdin.destroyed || stdin.writableEnded) continue; // pg_restore is done: drain for the checks
    if (!stdin.write(chunk)) await drained(stdin);
  }
  if (!stdin.destroyed && !stdin.writableEnded) stdin.end();
}

async function drain(source: AsyncIterable<Buffer>, stopped: () => boolean): Promise<void> {
  for await (const _chunk of source) if (stopped()) return;
}
