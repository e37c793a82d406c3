// Progress of long phases as log lines on stderr: a running phase logs a line at most every
// PROGRESS_INTERVAL seconds (default 5; 0: never), from its first interval on, so that `docker logs`
// of a long dump or restore shows it alive. Phases shorter than that log nothing extra.
import { describeProgress, type Progress } from '../core/progress.js';
import { readInt, type SettingInput } from '../core/settings/read.js';
import { formatBytes, type Output } from './output.js';

export function readProgressInterval(input: SettingInput): number {
  return readInt(input, { name: 'PROGRESS_INTERVAL' }, { min: 0, max: 3600, default: 5, example: '5' }) * 1000;
}

export function progressLogger(out: Output, intervalMs: number, now: () => number = Date.now): (p: Progress) => void {
  const last = new Map<string, number>();
  return (p) => {
    if (intervalMs <= 0) return;
    if (p.state !== 'running') {
      last.delete(p.id);
      return;
    }
    if (p.elapsedMs < intervalMs) return;
    const t = now();
    if (t - (last.get(p.id) ?? -Infinity) < intervalMs) return;
    last.set(p.id, t);
    out.log(describeProgress(p, formatBytes));
  };
}
