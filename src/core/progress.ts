// Typed progress of long work (dumps, uploads, downloads, checks, restores), computed in one place:
// a named phase with bytes done and bytes total where known, the object at work (a table, a file),
// elapsed time, rate over the last seconds and time left. Services report through a tracker; the
// CLI logs it, the terminal UI draws it. Plain data out, no rendering here.

/** The long phases of a backup and of a restore. */
export type PhaseKind =
  | 'listing'
  | 'dump-globals'
  | 'dump-database'
  | 'upload-s3'
  | 'push-remote'
  | 'retention'
  | 'download'
  | 'verify'
  | 'restore-globals'
  | 'restore-cluster'
  | 'restore-database'
  | 'swap';

export interface Progress {
  /** Unique per phase of one run, e.g. `dump-database:app`. */
  id: string;
  kind: PhaseKind;
  /** For people: `dump of database "app"`. */
  label: string;
  state: 'running' | 'done' | 'failed';
  bytes: number;
  /** When known (a file's size, a manifest's raw size). */
  totalBytes?: number;
  /** What is being worked on: `table public.events`, a file name. */
  object?: string;
  elapsedMs: number;
  /** Bytes per second over the last few seconds (after the first second). */
  rate?: number;
  /** Time left at that rate (with a total). */
  etaMs?: number;
}

export type ProgressListener = (p: Progress) => void;

const WINDOW_MS = 5000;

export interface TrackerOptions {
  /** The least time between two reports of a running phase (default 250 ms); state changes always report. */
  intervalMs?: number;
  now?: () => number;
}

export class ProgressTracker {
  private readonly intervalMs: number;
  readonly now: () => number;

  constructor(
    private readonly listener: ProgressListener = () => {},
    opts: TrackerOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? 250;
    this.now = opts.now ?? Date.now;
  }

  /** Starts a phase (reported at once). */
  phase(kind: PhaseKind, id: string, label: string, totalBytes?: number): Phase {
    return new Phase(this, this.listener, this.intervalMs, { id, kind, label, totalBytes });
  }
}

export class Phase {
  private bytes = 0;
  private object: string | undefined;
  private state: Progress['state'] = 'running';
  private readonly started: number;
  private lastReport = -Infinity;
  private readonly samples: Array<[number, number]> = [];

  constructor(
    private readonly tracker: ProgressTracker,
    private readonly listener: ProgressListener,
    private readonly intervalMs: number,
    private readonly info: { id: string; kind: PhaseKind; label: string; totalBytes?: number },
  ) {
    this.started = tracker.now();
    this.samples.push([this.started, 0]);
    this.report(true);
  }

  get id(): string {
    return this.info.id;
  }

  /** Sets the total once it is known. */
  setTotal(totalBytes: number): void {
    this.info.totalBytes = totalBytes;
  }

  /** Sets the bytes done (and the object at work); reported at most every intervalMs. */
  update(bytes: number, object?: string): void {
    if (this.state !== 'running') return;
    this.bytes = bytes;
    if (object !== undefined) this.object = object;
    this.report(false);
  }

  /** Adds bytes done. */
  add(bytes: number, object?: string): void {
    this.update(this.bytes + bytes, object);
  }

  done(): void {
    this.end('done');
  }

  failed(): void {
    this.end('failed');
  }

  private end(state: 'done' | 'failed'): void {
    if (this.state !== 'running') return;
    this.state = state;
    this.report(true);
  }

  snapshot(): Progress {
    const now = this.tracker.now();
    const elapsedMs = now - this.started;
    let rate: number | undefined;
    const first = this.samples[0]!;
    if (now - first[0] >= 1000) rate = ((this.bytes - first[1]) * 1000) / (now - first[0]);
    const total = this.info.totalBytes;
    const etaMs = this.state === 'running' && rate && rate > 0 && total !== undefined && total >= this.bytes ? ((total - this.bytes) / rate) * 1000 : undefined;
    return {
      id: this.info.id,
      kind: this.info.kind,
      label: this.info.label,
      state: this.state,
      bytes: this.bytes,
      ...(total !== undefined ? { totalBytes: total } : {}),
      ...(this.object !== undefined ? { object: this.object } : {}),
      elapsedMs,
      ...(rate !== undefined ? { rate } : {}),
      ...(etaMs !== undefined ? { etaMs } : {}),
    };
  }

  private report(force: boolean): void {
    const now = this.tracker.now();
    if (!force && now - this.lastReport < this.intervalMs) return; // called per chunk: nothing more to do
    this.lastReport = now;
    // Rate samples at report times only: a handful per window, whatever the chunk rate.
    this.samples.push([now, this.bytes]);
    while (this.samples.length > 2 && now - this.samples[1]![0] >= WINDOW_MS) this.samples.shift();
    this.listener(this.snapshot());
  }
}

/** "1.2 GB of 4.0 GB (30%), 45 MB/s, about 1m 2s left, table public.events" (for logs). */
export function describeProgress(p: Progress, formatBytes: (n: number) => string): string {
  const parts: string[] = [];
  parts.push(p.totalBytes !== undefined && p.totalBytes > 0 ? `${formatBytes(p.bytes)} of ${formatBytes(p.totalBytes)} (${Math.min(100, Math.floor((p.bytes / p.totalBytes) * 100))}%)` : formatBytes(p.bytes));
  if (p.rate !== undefined) parts.push(`${formatBytes(Math.round(p.rate))}/s`);
  if (p.etaMs !== undefined) parts.push(`about ${formatDuration(p.etaMs)} left`);
  else parts.push(`${formatDuration(p.elapsedMs)} so far`);
  if (p.object) parts.push(p.object);
  return `${p.label}: ${parts.join(', ')}`;
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}
