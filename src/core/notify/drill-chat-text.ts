// The Slack/Discord view of a restore drill: its title, facts (each at most FACT_MAX characters, so
// that a Discord embed stays within 6000 in all) and one line per database drilled.
import { formatDuration } from '../history/health.js';
import { footerText, truncate } from './chat-text.js';
import type { ChatView, Tone } from './chat-view.js';
import { counted, differenceText, oneLine, type DrillNoticeDatabase, type DrillNotifyPayload } from './drill-payload.js';
import { placeText } from './payload.js';

const FACT_MAX = 300;

const TONES: Record<DrillNotifyPayload['outcome'], Tone> = { passed: 'good', differences: 'bad', damaged: 'bad', failed: 'bad', stopped: 'warn' };
const TRIGGERS: Record<DrillNotifyPayload['trigger'], string> = { drill: 'pg-backups drill', screen: 'pg-backups screen', schedule: 'DRILL_SCHEDULE' };

export function drillView(p: DrillNotifyPayload): ChatView {
  const what = p.outcome === 'passed' ? 'passed' : p.outcome === 'stopped' ? 'was stopped' : 'FAILED';
  const facts = [
    { name: 'Trigger', value: TRIGGERS[p.trigger] },
    { name: 'Started', value: p.startedAt },
    { name: 'Took', value: formatDuration(p.durationSeconds * 1000) },
  ];
  if (p.folder !== null) facts.push({ name: 'Folder', value: p.folder });
  if (p.source !== null) facts.push({ name: 'Source', value: p.source });
  if (p.target !== null) facts.push({ name: 'Target', value: p.target });
  facts.push({ name: 'Tables checked', value: `${p.tablesChecked}${p.differences > 0 ? `, ${p.differences} ${p.differences === 1 ? 'differs' : 'differ'}` : ''}` });
  return {
    heading: `pg-backups: restore drill ${what} ${placeText(p)}`,
    tone: TONES[p.outcome],
    facts: facts.map((f) => ({ name: f.name, value: truncate(f.value, FACT_MAX) })),
    ...(p.databases.length > 0 ? { section: { name: 'Databases', lines: (max: number) => p.databases.map((d) => databaseLine(d, max)) } } : {}),
    ...(p.error !== undefined ? { error: p.error } : {}),
    footer: footerText(p),
    timestamp: p.finishedAt,
  };
}

/**
 * `"app": differences, 12 tables checked, 2 differ ("public"."orders": recorded 10, found 8; ...)`,
 * `"app": passed, 12 tables checked`, `"app": damaged (<error>)`; details cut to max characters.
 */
export function databaseLine(d: DrillNoticeDatabase, max: number): string {
  const name = JSON.stringify(d.database);
  const checked = d.counts === 'checked' ? `${counted(d.tablesChecked, 'table')} checked` : 'restore only (the backup recorded no row counts)';
  let line: string;
  if (d.outcome === 'passed') line = `${name}: passed, ${checked}`;
  else if (d.outcome === 'differences') {
    const total = d.differences.length + d.differencesLeftOut;
    const list = [...d.differences.map(differenceText), ...(d.differencesLeftOut > 0 ? [`and ${d.differencesLeftOut} more`] : [])].join('; ');
    line = `${name}: differences, ${checked}, ${total} ${total === 1 ? 'differs' : 'differ'} (${truncate(list, max)})`;
  } else line = `${name}: ${d.outcome}${d.error !== undefined ? ` (${truncate(oneLine(d.error), max)})` : ''}`;
  return d.cleanupError !== undefined ? `${line}; ${truncate(oneLine(d.cleanupError), max)}` : line;
}
