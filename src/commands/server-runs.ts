// Backup runs of several servers (BACKUP_<NAME>=postgresql://...), as `backup` and `schedule` start
// them: every server's settings read and checked up front, then one server after the other; one that
// fails (down, refused, a destination failing) never stops the others.
import { mkdir } from 'node:fs/promises';
import type { BackupResult } from '../core/backup/backup-service.js';
import { describeError, isAbort, isKnownError } from '../core/errors.js';
import type { RunRecord } from '../core/history/run-record.js';
import { redact } from '../core/secrets.js';
import { readLocal } from '../core/settings/backup.js';
import type { SettingInput } from '../core/settings/read.js';
import { readServerScopes, type ServerScope } from '../core/settings/servers.js';
import { prepareBackupRun, type BackupRunner } from './backup-run.js';
import type { CommandContext } from './command.js';

export interface ServerRunner {
  scope: ServerScope;
  run: BackupRunner;
}

export interface ServerRunOutcome {
  scope: ServerScope;
  result?: BackupResult;
  /** The run threw (the server down, the local disk full...): its one line, redacted. */
  error?: string;
  /** The thrown error itself, for its exit code. */
  thrown?: unknown;
}

/** Every server's runner (--server NAME: that one only); throws on a bad setting of any of them. */
export function prepareServerRuns(ctx: CommandContext, input: SettingInput): ServerRunner[] {
  const only = typeof ctx.flags.server === 'string' ? ctx.flags.server : undefined;
  return readServerScopes(input, { ...(only !== undefined ? { only } : {}) }).map((scope) => ({ scope, run: prepareBackupRun(ctx, scope) }));
}

/** One run of each server in turn; a stop (SIGTERM) ends the round and is thrown. */
export async function runEachServer(runners: ServerRunner[], trigger: RunRecord['trigger'], signal: AbortSignal): Promise<ServerRunOutcome[]> {
  const outcomes: ServerRunOutcome[] = [];
  for (const { scope, run } of runners) {
    if (signal.aborted) throw signal.reason;
    // A named server's folder is made up front (where BACKUP_DIR exists), so that a server down from
    // its first run on still has its failure in its own run history (status, healthcheck).
    if (scope.name) await mkdir(readLocal(scope.input).backupDir).catch(() => {});
    try {
      outcomes.push({ scope, result: await run(trigger) });
    } catch (err) {
      if (isAbort(err, signal)) throw err;
      if (!isKnownError(err)) throw err; // a bug: reported as one, not as a server's failure
      outcomes.push({ scope, error: redact(describeError(err)), thrown: err });
    }
  }
  return outcomes;
}

/** Whether a server's run ended with its backup on every destination. */
export function runSucceeded(o: ServerRunOutcome): boolean {
  return o.result !== undefined && o.result.errors.length === 0;
}
