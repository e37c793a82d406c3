// Pieces of text shared by the Slack and Discord messages: the title, the facts of a run, the
// footer, and truncation to the services' size limits.
import { formatDuration } from '../history/health.js';
import type { NoticePayload } from './drill-payload.js';
import { placeText, type NotifyPayload } from './payload.js';

/** At most max UTF-16 units (as the services count), with an ellipsis when cut; never half a character. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let out = '';
  for (const ch of text) {
    if (out.length + ch.length > max - 1) break;
    out += ch;
  }
  return `${out}…`;
}

export function title(p: NotifyPayload): string {
  const what = p.outcome === 'ok' ? 'succeeded' : p.outcome === 'stopped' ? 'was stopped' : 'FAILED';
  return `pg-backups: backup ${what} ${placeText(p)}`;
}

/** "pg-backups 1.2.3 · backup.failed". */
export function footerText(p: NoticePayload): string {
  return `pg-backups ${p.version} · ${p.event}`;
}

const TRIGGERS: Record<NotifyPayload['trigger'], string> = { backup: 'pg-backups backup', schedule: 'schedule', start: 'schedule, on start' };

/** Name/value facts of a run, in the order shown. */
export function facts(p: NotifyPayload): { name: string; value: string }[] {
  const list = [
    { name: 'Trigger', value: TRIGGERS[p.trigger] },
    { name: 'Started', value: p.startedAt },
    { name: 'Took', value: formatDuration(p.durationSeconds * 1000) },
  ];
  if (p.folder !== null) list.push({ name: 'Folder', value: p.folder });
  if (p.bytes !== null) list.push({ name: 'Size', value: sizeText(p.bytes) });
  return list;
}

/** One line per destination: "local /backups: ok", "s3 s3://bucket/prefix: failed (error)". */
export function destinationLines(p: NotifyPayload, maxError: number): string[] {
  return p.destinations.map((d) => `${d.kind} ${d.location}: ${d.ok ? 'ok' : 'failed'}${d.error !== undefined ? ` (${truncate(d.error, maxError)})` : ''}`);
}

/** 1536 -> "1.5 KiB". */
export function sizeText(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  const exp = bytes > 0 ? Math.min(units.length - 1, Math.floor(Math.log2(bytes) / 10)) : 0;
  const value = bytes / 2 ** (10 * exp);
  return exp === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[exp]}`;
}

/** Three backticks inside would end the code block. */
export function codeSafe(text: string): string {
  return text.replace(/```/g, "'''");
}
