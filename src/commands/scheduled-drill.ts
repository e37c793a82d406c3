// DRILL_SCHEDULE's drill inside `pg-backups schedule`: the drill of `pg-backups drill` (the newest
// finished backup of RESTORE_SOURCE, default BACKUP_DIR), for every backed-up server in turn (in
// name order, each into its own run history, one that fails never stopping the others), recorded with
// trigger "schedule" and notified.
import { stat } from 'node:fs/promises';
import { drillRecord } from '../core/drill/drill-record.js';
import { describeError, isAbort, isKnownError, messageOf } from '../core/errors.js';
import { markDrillsSince } from '../core/history/state-file.js';
import { setDecryptionKeys } from '../core/encryption/age-stream.js';
import { readDecryptionKeys } from '../core/settings/encryption.js';
import type { SettingInput } from '../core/settings/read.js';
import { serverPrefix } from '../core/settings/servers.js';
import type { CommandContext } from './command.js';
import { prepareDrill, type PreparedDrill } from './drill-setup.js';
import { prefixedOutput } from './output.js';
import type { ServerRunner } from './server-runs.js';

/** The drill round of the scheduler; every server's settings are checked now, before the service starts. */
export interface ScheduledDrill {
  /** Notes in each server's history that drills begin now (unless noted before); awaited before the first run. */
  begin(): Promise<void>;
  /** One drill round: every server in turn. */
  run(signal: AbortSignal): Promise<boolean>;
}

export function prepareScheduledDrill(ctx: CommandContext, input: SettingInput, runners: ServerRunner[]): ScheduledDrill {
  setDecryptionKeys(readDecryptionKeys(input)); // encrypted backups: RESTORE_IDENTITY_FILE or BACKUP_ENCRYPTION_KEY
  const drills = runners.map(({ scope }) => prepareDrill(ctx, scope));
  // The health check gives a service DRILL_MAX_AGE from its first drill time on (before the first drill has passed).
  const noteBegin = (drill: PreparedDrill) =>
    markDrillsSince(drill.backupDir, new Date()).catch((err) => prefixedOutput(ctx.out, serverPrefix(drill.scope)).warn(`the run history was not updated: ${messageOf(err)}`));
  const begin = async () => {
    for (const d of drills) if (await isDirectory(d.backupDir)) await noteBegin(d);
  };
  const run = async (signal: AbortSignal) => {
    ctx.out.log('scheduled drill');
    let ok = true;
    for (const drill of drills) {
      if (signal.aborted) throw signal.reason;
      const out = prefixedOutput(ctx.out, serverPrefix(drill.scope));
      if (await isDirectory(drill.backupDir)) await noteBegin(drill); // BACKUP_DIR made by the first run
      try {
        const report = await drill.start({
          trigger: 'schedule',
          folder: 'latest',
          signal,
          log: { warn: (m) => out.warn(m), info: (m) => out.log(m) },
          onEvent: (e) => {
            if (e.type === 'step') out.log(`drill: ${e.message}`);
            else if (e.type === 'warning') out.warn(`drill: ${e.message}`);
          },
        });
        const r = drillRecord(report, 'schedule', signal.aborted); // as the history has it
        const line = `drill of ${report.folder}: ${r.outcome === 'passed' || r.outcome === 'stopped' ? r.outcome : `FAILED (${r.outcome})`} (${r.databases} database(s), ${r.tablesChecked} table(s) checked${r.differences > 0 ? `, ${r.differences} difference(s)` : ''})${r.error ? `: ${r.error}` : ''}`;
        if (report.ok) out.log(line);
        else out.error(line);
        ok &&= report.ok;
      } catch (err) {
        if (isAbort(err, signal)) throw err;
        // One server's failure (its source unreachable, no finished backup) is recorded in its history; the others still drill.
        if (!isKnownError(err) || runners.length === 1) throw err;
        out.error(`the drill failed: ${describeError(err)}`);
        ok = false;
      }
    }
    return ok;
  };
  return { begin, run };
}

const isDirectory = (path: string) => stat(path).then((s) => s.isDirectory(), () => false);
