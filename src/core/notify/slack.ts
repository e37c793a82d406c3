// The Slack message of a run (incoming webhooks): `text` for the notification itself, and Block Kit
// blocks for the channel. Limits respected: header 150 characters, section text 3000, at most 10
// fields of 2000 each.
import { codeSafe, destinationLines, facts, title, truncate } from './chat-text.js';
import type { NotifyPayload } from './payload.js';

export interface SlackMessage {
  text: string;
  blocks: unknown[];
}

const ICONS: Record<NotifyPayload['outcome'], string> = { ok: ':white_check_mark:', failed: ':x:', stopped: ':warning:' };

export function slackMessage(p: NotifyPayload): SlackMessage {
  const heading = title(p);
  const text = `${ICONS[p.outcome]} ${escaped(`${heading}${p.error !== undefined ? `: ${p.error}` : ''}`, 900)}`;
  const blocks: unknown[] = [
    { type: 'header', text: { type: 'plain_text', text: truncate(heading, 150), emoji: true } },
    { type: 'section', fields: facts(p).slice(0, 10).map((f) => ({ type: 'mrkdwn', text: `*${f.name}*\n${escaped(f.value, 1900)}` })) },
  ];
  if (p.error !== undefined) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `*Error*\n\`\`\`${escaped(codeSafe(p.error), 2900)}\`\`\`` } });
  }
  const lines = destinationLines(p, 300).map((l) => `• ${l}`);
  blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `*Destinations*\n${escaped(lines.join('\n'), 2900)}` } });
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: escaped(`pg-backups ${p.version} · ${p.event}`, 300) }] });
  return { text, blocks };
}

/**
 * Slack's mrkdwn: &, < and > escaped (else <...> is read as a link or mention), then cut to max
 * characters, never inside an entity.
 */
function escaped(text: string, max: number): string {
  const cut = truncate(text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'), max);
  return cut.replace(/&[a-z]{0,3}…$/, '…');
}
