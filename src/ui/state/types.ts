// The state of a terminal session as plain data: what the screens show and what the keys change.
// Nothing here holds a connection, a source object or a promise: the app (src/ui/app.tsx) turns
// state into work through the core services, and work back into actions.
import type { DrillReport } from '../../core/drill/drill-service.js';
import type { Progress } from '../../core/progress.js';
import type { RestorePlan } from '../../core/restore/plan.js';
import type { RestoreType } from '../../core/restore/model.js';
import type { BackupEntry, EntryStatus, SourceKind } from '../../core/source.js';

export interface ServerView {
  /** "postgres@127.0.0.1:5432" */
  where: string;
  /** host:port (or socket folder:port): what the confirmation of a cluster restore asks to type. */
  address: string;
  state: 'loading' | 'ok' | 'failed';
  version?: string;
  superuser?: boolean;
  databases?: string[];
  error?: string;
}

export interface SourceView {
  kind: SourceKind;
  location: string;
  state: 'loading' | 'ok' | 'failed';
  entries?: BackupEntry[];
  error?: string;
}

export interface CopyView {
  kind: SourceKind;
  location: string;
  entry: BackupEntry;
}

/** One backup folder over every source that holds it (see core/catalog.ts). */
export interface BackupRow {
  folder: string;
  time: Date;
  status: EntryStatus;
  future: boolean;
  problem?: string;
  serverVersion?: string;
  databases: string[];
  bytes: number;
  copies: CopyView[];
}

export interface ListState {
  cursor: number;
  filter: string;
  /** The filter line has the keys. */
  filtering: boolean;
}

export interface RestoreChoice {
  folder: string;
  /** The copy to read. */
  copy: SourceKind;
  type: RestoreType;
  database?: string;
  /** The name it lands under (database restores); absent: the original name. */
  target?: string;
  /** Replace what exists (a database of that name). */
  overwrite: boolean;
  /** A custom-format backup: only these tables (RESTORE_TABLES), into a new database. */
  tables?: TableName[];
  /**
   * A seed 002 file (one database, its name nowhere in the file): `database` is the name the
   * operator typed to restore it under ('' until then).
   */
  single?: true;
}

export interface TableName {
  schema: string;
  name: string;
}

/** A table of a custom-format archive's table of contents, for the pick list. */
export interface ArchiveTable extends TableName {
  kind: string;
}

export type Job =
  | { id: number; kind: 'restore'; title: string; choice: RestoreChoice }
  | { id: number; kind: 'verify'; title: string; folder: string; copy: SourceKind }
  | { id: number; kind: 'backup'; title: string }
  | { id: number; kind: 'drill'; title: string; folder: string; copy: SourceKind };

export interface JobResult {
  ok: boolean;
  stopped: boolean;
  /** What was done, where, sizes, time, the next step (success); or what state things are in. */
  lines: string[];
  /** The one-line error (failure, stop). */
  error?: string;
  exitCode: number;
  elapsedMs: number;
  /** A drill's report (per database: restore time, size, tables checked, differences), for its table. */
  drill?: DrillReport;
}

/** A log line of the running job (also written to the session log by the app). */
export interface LogLine {
  level: 'info' | 'warn' | 'error';
  text: string;
}

export type Screen =
  | { name: 'backups'; list: ListState }
  | { name: 'backup'; folder: string; copy: SourceKind; cursor: number }
  | { name: 'pick-db'; folder: string; copy: SourceKind; list: ListState }
  | { name: 'setup'; choice: RestoreChoice; editing: boolean; draft: string }
  | {
      name: 'pick-tables';
      id: number;
      choice: RestoreChoice;
      /** The archive's tables, once read from its table of contents. */
      tables?: ArchiveTable[];
      error?: string;
      /** Keys (tableKey) of the tables marked. */
      picked: string[];
      list: ListState;
    }
  | {
      name: 'plan';
      id: number;
      choice: RestoreChoice;
      plan?: RestorePlan;
      error?: string;
      typed: string;
      /** The last wrong entry of the typed confirmation. */
      wrong?: string;
      scroll: number;
    }
  | {
      name: 'work';
      job: Job;
      phases: Progress[];
      log: LogLine[];
      startedAt: number;
      ask?: 'stop' | 'quit';
      /** Stop asked for: the abort is under way, cleanup runs. */
      stopping: boolean;
      /** Leave the program once the job has settled (a second Ctrl-C, or quit). */
      exitAfter: boolean;
    }
  | { name: 'result'; job: Job; result: JobResult };

export interface State {
  server: ServerView;
  /** Where a drill's scratch databases go (DRILL_TARGET, else the target server), for people; absent: the target server. */
  drillWhere?: string;
  sources: SourceView[];
  /** Bumped by reload: the app lists every source again. */
  loadId: number;
  stack: Screen[];
  help: boolean;
  columns: number;
  rows: number;
  /** Set when the program should end, with its exit code. */
  exit?: number;
  /** The exit code the session ends with: that of the last job (0 when none failed). */
  exitCode: number;
  /** One line per finished job, for the summary left in the terminal on exit. */
  history: string[];
  nextId: number;
  now: number;
}
