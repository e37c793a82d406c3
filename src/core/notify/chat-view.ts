// What a Slack or a Discord message shows, whichever the notice: a backup run's or a drill's. Each
// service renders this one shape within its own limits (slack.ts, discord.ts).
import { destinationLines, facts, footerText, title } from './chat-text.js';
import { drillView } from './drill-chat-text.js';
import type { NoticePayload } from './drill-payload.js';
import type { NotifyPayload } from './payload.js';

/** good: green, a tick; bad: red, a cross; warn: yellow, a warning sign. */
export type Tone = 'good' | 'bad' | 'warn';

export interface ChatView {
  /** "pg-backups: backup FAILED on db-1 (server main)". */
  heading: string;
  tone: Tone;
  /** Name/value facts, in the order shown (short values). */
  facts: { name: string; value: string }[];
  /** The list below the facts ("Destinations", "Databases"); lines(max) cuts each line's detail to max characters. */
  section?: { name: string; lines: (maxDetail: number) => string[] };
  /** The first error line, shown in a code block. */
  error?: string;
  footer: string;
  /** When it ended (ISO 8601). */
  timestamp: string;
}

export function chatView(p: NoticePayload): ChatView {
  return 'kind' in p ? drillView(p) : runView(p);
}

const TONES: Record<NotifyPayload['outcome'], Tone> = { ok: 'good', failed: 'bad', stopped: 'warn' };

function runView(p: NotifyPayload): ChatView {
  return {
    heading: title(p),
    tone: TONES[p.outcome],
    facts: facts(p),
    section: { name: 'Destinations', lines: (max) => destinationLines(p, max) },
    ...(p.error !== undefined ? { error: p.error } : {}),
    footer: footerText(p),
    timestamp: p.finishedAt,
  };
}
