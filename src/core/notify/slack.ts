// The Slack message of a run or a drill (incoming webhooks): `text` for the notification itself, and
// Block Kit blocks for the channel. Limits respected: header 150 characters, section text 3000, at
// most 10 fields of 2000 each.
import { codeSafe, truncate } from './chat-text.js';
import { chatView, type Tone } from './chat-view.js';
import type { NoticePayload } from './drill-payload.js';

export interface SlackMessage {
  text: string;
  blocks: unknown[];
}

const ICONS: Record<Tone, string> = { good: ':white_check_mark:', bad: ':x:', warn: ':warning:' };

export function slackMessage(p: NoticePayload): SlackMessage {
  const v = chatView(p);
  const text = `${ICONS[v.tone]} ${escaped(`${v.heading}${v.error !== undefined ? `: ${v.error}` : ''}`, 900)}`;
  const blocks: unknown[] = [
    { type: 'header', text: { type: 'plain_text', text: truncate(v.heading, 150), emoji: true } },
    { type: 'section', fields: v.facts.slice(0, 10).map((f) => ({ type: 'mrkdwn', text: `*${f.name}*\n${escaped(f.value, 1900)}` })) },
  ];
  if (v.error !== undefined) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `*Error*\n\`\`\`${escaped(codeSafe(v.error), 2900)}\`\`\`` } });
  }
  if (v.section) {
    const lines = v.section.lines(300).map((l) => `• ${l}`);
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `*${v.section.name}*\n${escaped(lines.join('\n'), 2900)}` } });
  }
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: escaped(v.footer, 300) }] });
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
