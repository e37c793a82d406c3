// The metrics of /metrics, from a status snapshot: per server (label server="<name>" when servers are
// named) the last success, the last run's duration and bytes, the runs of the recorded history by
// outcome, each destination's last success and last result, health, the newest backup's age and
// whether a run is going; the drills (when any is recorded or drills are judged): the last passed one's
// end and duration, the last one's end, verdict and differences, drills by outcome; and the next
// scheduled run.
import type { DrillRecord, RunRecord } from '../history/run-record.js';
import { TOOL_VERSION } from '../version.js';
import type { Labels, MetricFamily, Sample } from './metrics.js';
import type { StatusSnapshot, TargetStatus } from './status-snapshot.js';

const OUTCOMES: ReadonlyArray<RunRecord['outcome']> = ['ok', 'failed', 'stopped'];
const DRILL_OUTCOMES: ReadonlyArray<DrillRecord['outcome']> = ['passed', 'differences', 'damaged', 'failed', 'stopped'];

const seconds = (ms: number) => ms / 1000;
const timestamp = (iso: string) => seconds(Date.parse(iso));

type Family = Omit<MetricFamily, 'samples'>;

const FAMILIES = {
  info: { name: 'pg_backups_info', type: 'gauge', help: 'Always 1; the version of pg-backups in the label version.' },
  healthy: { name: 'pg_backups_healthy', type: 'gauge', help: '1 when the newest good backup is younger than HEALTHCHECK_MAX_AGE and the last run did not fail (as pg-backups healthcheck), else 0.' },
  lastSuccess: { name: 'pg_backups_last_success_timestamp_seconds', type: 'gauge', help: 'When the last successful run ended (Unix time); 0 when the recorded history holds none.' },
  lastRunEnd: { name: 'pg_backups_last_run_timestamp_seconds', type: 'gauge', help: 'When the last recorded run ended, whatever its outcome (Unix time).' },
  lastRunDuration: { name: 'pg_backups_last_run_duration_seconds', type: 'gauge', help: 'How long the last recorded run took, whatever its outcome.' },
  lastRunBytes: { name: 'pg_backups_last_run_bytes', type: 'gauge', help: 'Bytes of the backup the last recorded run wrote (0 when it wrote none).' },
  runs: { name: 'pg_backups_recorded_runs', type: 'gauge', help: 'Runs in the recorded run history (its last 100 runs) by outcome: ok, failed, or stopped by a signal. A gauge: old runs leave the history.' },
  destinationSuccess: { name: 'pg_backups_destination_last_success_timestamp_seconds', type: 'gauge', help: 'When the last run that put its backup on this destination ended (Unix time); 0 when none in the recorded history.' },
  destinationOk: { name: 'pg_backups_destination_last_run_ok', type: 'gauge', help: '1 when the last run that ended (not stopped) put its backup on this destination, else 0.' },
  newestAge: { name: 'pg_backups_newest_backup_age_seconds', type: 'gauge', help: 'Age of the newest good (finished) backup in BACKUP_DIR, from its folder name.' },
  maxAge: { name: 'pg_backups_max_age_seconds', type: 'gauge', help: 'HEALTHCHECK_MAX_AGE: how old the newest good backup may be before the service is unhealthy.' },
  running: { name: 'pg_backups_running', type: 'gauge', help: '1 while a backup run is going (it holds the run lock of BACKUP_DIR), else 0.' },
  drillSuccess: { name: 'pg_backups_drill_last_success_timestamp_seconds', type: 'gauge', help: 'When the newest passed restore drill ended (Unix time); 0 when the recorded history holds none.' },
  drillSuccessDuration: { name: 'pg_backups_drill_last_success_duration_seconds', type: 'gauge', help: 'How long the newest passed restore drill took (restores and row counts).' },
  drillLastEnd: { name: 'pg_backups_drill_last_timestamp_seconds', type: 'gauge', help: 'When the last restore drill that was not stopped ended (Unix time).' },
  drillLastPassed: { name: 'pg_backups_drill_last_passed', type: 'gauge', help: '1 when the last restore drill that was not stopped passed (restored, every row count equal), else 0.' },
  drillLastDifferences: { name: 'pg_backups_drill_last_differences', type: 'gauge', help: 'Tables whose row count differed from the backup\'s in the last restore drill that was not stopped.' },
  drills: { name: 'pg_backups_recorded_drills', type: 'gauge', help: 'Restore drills in the recorded history (its last 100) by outcome: passed, differences, damaged, failed, stopped.' },
  drillMaxAge: { name: 'pg_backups_drill_max_age_seconds', type: 'gauge', help: 'DRILL_MAX_AGE (or twice DRILL_SCHEDULE\'s interval): how old the newest passed drill may be before the service is unhealthy.' },
  next: { name: 'pg_backups_next_run_timestamp_seconds', type: 'gauge', help: 'When the next scheduled run is due (Unix time).' },
} as const satisfies Record<string, Family>;

type Key = keyof typeof FAMILIES;

export function statusMetrics(snapshot: StatusSnapshot): MetricFamily[] {
  const samples = new Map<Key, Sample[]>(Object.keys(FAMILIES).map((k) => [k as Key, []]));
  const add = (key: Key, value: number, labels: Labels = {}) => samples.get(key)!.push({ labels, value });
  add('info', 1, { version: TOOL_VERSION });
  for (const target of snapshot.targets) targetSamples(target, add);
  if (snapshot.next) add('next', seconds(snapshot.next.getTime()));
  return (Object.keys(FAMILIES) as Key[]).map((key) => ({ ...FAMILIES[key], samples: samples.get(key)! }));
}

function targetSamples(status: TargetStatus, add: (key: Key, value: number, labels?: Labels) => void): void {
  const base: Labels = status.target.name !== undefined ? { server: status.target.name } : {};
  add('healthy', status.healthy ? 1 : 0, base);
  const report = status.report;
  if (!report) return;
  const runs = report.runs; // newest first
  const lastOk = runs.find((r) => r.outcome === 'ok');
  add('lastSuccess', lastOk ? timestamp(lastOk.finishedAt) : 0, base);
  const last = runs[0];
  if (last) {
    add('lastRunEnd', timestamp(last.finishedAt), base);
    add('lastRunDuration', Math.max(0, seconds(Date.parse(last.finishedAt) - Date.parse(last.startedAt))), base);
    add('lastRunBytes', last.bytes ?? 0, base);
  }
  for (const outcome of OUTCOMES) add('runs', runs.filter((r) => r.outcome === outcome).length, { ...base, outcome });
  const lastEnded = report.health.lastRun;
  for (const d of destinations(runs)) {
    const labels = { ...base, destination: d.kind, location: d.location };
    add('destinationSuccess', d.lastSuccess ?? 0, labels);
    add('destinationOk', lastEnded?.destinations.some((x) => x.kind === d.kind && x.location === d.location && x.ok) ? 1 : 0, labels);
  }
  if (report.health.newest) add('newestAge', seconds(report.health.newest.ageMs), base);
  add('maxAge', seconds(report.maxAgeMs), base);
  add('running', report.running ? 1 : 0, base);
  drillSamples(report.drills, report.drillMaxAgeMs, base, add);
}

/** Nothing when no drill is recorded and none is judged: a service without drills has no drill metrics. */
function drillSamples(drills: DrillRecord[], maxAgeMs: number | undefined, base: Labels, add: (key: Key, value: number, labels?: Labels) => void): void {
  if (drills.length === 0 && maxAgeMs === undefined) return;
  const duration = (d: DrillRecord) => Math.max(0, seconds(Date.parse(d.finishedAt) - Date.parse(d.startedAt)));
  const passed = drills.find((d) => d.outcome === 'passed'); // newest first
  add('drillSuccess', passed ? timestamp(passed.finishedAt) : 0, base);
  if (passed) add('drillSuccessDuration', duration(passed), base);
  const last = drills.find((d) => d.outcome !== 'stopped');
  if (last) {
    add('drillLastEnd', timestamp(last.finishedAt), base);
    add('drillLastPassed', last.outcome === 'passed' ? 1 : 0, base);
    add('drillLastDifferences', last.differences, base);
  }
  for (const outcome of DRILL_OUTCOMES) add('drills', drills.filter((d) => d.outcome === outcome).length, { ...base, outcome });
  if (maxAgeMs !== undefined) add('drillMaxAge', seconds(maxAgeMs), base);
}

/** Every destination named in the recorded history, with the end of the last run that put its backup there. */
function destinations(runs: RunRecord[]): Array<{ kind: string; location: string; lastSuccess?: number }> {
  const found = new Map<string, { kind: string; location: string; lastSuccess?: number }>();
  for (const run of [...runs].reverse()) {
    for (const d of run.destinations) {
      const key = `${d.kind}\0${d.location}`;
      const entry = found.get(key) ?? { kind: d.kind, location: d.location };
      if (d.ok && run.outcome !== 'stopped') entry.lastSuccess = timestamp(run.finishedAt);
      found.set(key, entry);
    }
  }
  return [...found.values()];
}
