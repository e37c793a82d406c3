// The Discord message of a run or a drill (channel webhooks): `content` for the notification itself
// and one embed. Limits respected: content 2000 characters, embed title 256, description 4096, field
// value 1024, footer 2048, 6000 in all. Mentions in an error line (@everyone) never ping.
import { codeSafe, truncate } from './chat-text.js';
import { chatView, type Tone } from './chat-view.js';
import type { NoticePayload } from './drill-payload.js';

export interface DiscordMessage {
  content: string;
  embeds: unknown[];
  allowed_mentions: { parse: string[] };
}

const COLORS: Record<Tone, number> = { good: 0x2eb67d, bad: 0xe01e5a, warn: 0xecb22e };

export function discordMessage(p: NoticePayload): DiscordMessage {
  const v = chatView(p);
  const content = truncate(`${v.heading}${v.error !== undefined ? `: ${v.error}` : ''}`, 500);
  const fields = v.facts.map((f) => ({ name: f.name, value: truncate(f.value, 1024), inline: true }));
  if (v.section) fields.push({ name: v.section.name, value: truncate(v.section.lines(200).join('\n'), 1024), inline: false });
  const embed = {
    title: truncate(v.heading, 256),
    ...(v.error !== undefined ? { description: `\`\`\`\n${codeSafe(truncate(v.error, 2000))}\n\`\`\`` } : {}),
    color: COLORS[v.tone],
    fields,
    timestamp: v.timestamp,
    footer: { text: v.footer },
  };
  return { content, embeds: [embed], allowed_mentions: { parse: [] } };
}
