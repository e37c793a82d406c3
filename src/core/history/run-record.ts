// One backup run as the history keeps it: plain data, written to the state file as JSON.

export type RunOutcome =
  /** The backup is on every enabled destination. */
  | 'ok'
  /** The run did not end with the backup everywhere (no local backup, or a destination missing it). */
  | 'failed'
  /** Stopped by SIGTERM/SIGINT before it finished; nothing was kept. */
  | 'stopped';

export interface DestinationResult {
  kind: 'local' | 's3' | 'remote';
  location: string;
  ok: boolean;
  error?: string;
}

export interface RunRecord {
  /** How the run started: `backup` (by hand), `schedule` (on its cron time) or `start` (schedule's run on start). */
  trigger: 'backup' | 'schedule' | 'start';
  outcome: RunOutcome;
  startedAt: string;
  finishedAt: string;
  /** The backup folder, once the local backup was in place. */
  folder?: string;
  bytes?: number;
  destinations: DestinationResult[];
  /** The first error line (redacted), when the run did not end ok. */
  error?: string;
}

/** One drill (pg-backups drill, the screen's, or DRILL_SCHEDULE's) as the history keeps it. */
export interface DrillRecord {
  trigger: 'drill' | 'screen' | 'schedule';
  /** passed: restored with every count equal; differences/damaged: exit 3; failed: exit 1; stopped: by a signal. */
  outcome: 'passed' | 'differences' | 'damaged' | 'failed' | 'stopped';
  startedAt: string;
  finishedAt: string;
  folder?: string;
  databases: number;
  tablesChecked: number;
  differences: number;
  /** The first error line (redacted), when it did not pass. */
  error?: string;
}

/** The state file: the newest runs and drills, oldest first (`drills` since issue 12; absent before). */
export interface RunHistory {
  format: 1;
  runs: RunRecord[];
  drills?: DrillRecord[];
  /** When `schedule` first ran with DRILL_SCHEDULE here: a service without a passed drill yet is given DRILL_MAX_AGE from then. */
  drillsSince?: string;
}
