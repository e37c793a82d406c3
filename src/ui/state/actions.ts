// The plain actions of a session: keys turned into intents (src/ui/state/keys.ts) and the answers
// of the work the app runs (listings, plans, jobs).
import type { Progress } from '../../core/progress.js';
import type { RestorePlan } from '../../core/restore/plan.js';
import type { BackupEntry, SourceKind } from '../../core/source.js';
import type { KeyPress } from './keys.js';
import type { ArchiveTable, JobResult, LogLine } from './types.js';

export type Action =
  // answers of work
  | { type: 'server-loaded'; version: string; superuser: boolean; databases: string[] }
  | { type: 'server-failed'; error: string }
  | { type: 'source-loaded'; kind: SourceKind; entries: BackupEntry[] }
  | { type: 'source-failed'; kind: SourceKind; error: string }
  | { type: 'plan-ready'; id: number; plan: RestorePlan }
  | { type: 'plan-failed'; id: number; error: string }
  | { type: 'tables-ready'; id: number; tables: ArchiveTable[] }
  | { type: 'tables-failed'; id: number; error: string }
  | { type: 'job-progress'; id: number; progress: Progress }
  | { type: 'job-log'; id: number; line: LogLine }
  | { type: 'job-done'; id: number; result: JobResult }
  // the terminal
  | { type: 'resize'; columns: number; rows: number }
  | { type: 'tick'; now: number }
  /** A key as typed: read against the state it lands on (keys typed faster than a redraw keep their order and meaning). */
  | { type: 'key'; input: string; key: KeyPress }
  // what keys mean
  | { type: 'move'; by: number }
  | { type: 'move-to'; index: 'first' | 'last' }
  | { type: 'enter' }
  | { type: 'back' }
  | { type: 'quit' }
  | { type: 'help' }
  | { type: 'reload' }
  | { type: 'filter' }
  | { type: 'text'; text: string }
  | { type: 'erase' }
  | { type: 'next-copy' }
  | { type: 'target'; how: 'restored' | 'original' | 'edit' }
  /** setup: choose tables of a custom-format backup; pick-tables: mark or unmark the table at the cursor. */
  | { type: 'pick-tables' }
  | { type: 'toggle' }
  | { type: 'backup-now' }
  | { type: 'verify' }
  /** A backup's screen: restore it into scratch databases and check every table's row count. */
  | { type: 'drill' }
  | { type: 'interrupt' }
  | { type: 'answer'; yes: boolean }
  /** A signal from outside (SIGTERM, SIGINT not from the keyboard): stop the work and leave. */
  | { type: 'terminate' };
