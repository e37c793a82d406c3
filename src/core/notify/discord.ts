// The Discord message of a run (channel webhooks): `content` for the notification itself and one
// embed. Limits respected: content 2000 characters, embed title 256, description 4096, field
// value 1024, footer 2048, 6000 in all. Mentions in an error line (@everyone) never ping.
import { codeSafe, destinationLines, facts, title, truncate } from './chat-text.js';
import type { NotifyPayload } from './payload.js';

export interface DiscordMessage {
  content: string;
  embeds: unknown[];
  allowed_mentions: { parse: string[] };
}

const COLORS: Record<NotifyPayload['outcome'], number> = { ok: 0x2eb67d, failed: 0xe01e5a, stopped: 0xecb22e };

export function discordMessage(p: NotifyPayload): DiscordMessage {
  const heading = title(p);
  const content = truncate(`${heading}${p.error !== undefined ? `: ${p.error}` : ''}`, 500);
  const fields = facts(p).map((f) => ({ name: f.name, value: truncate(f.value, 1024), inline: true }));
  fields.push({ name: 'Destinations', value: truncate(destinationLines(p, 200).join('\n'), 1024), inline: false });
  const embed = {
    title: truncate(heading, 256),
    ...(p.error !== undefined ? { description: `\`\`\`\n${codeSafe(truncate(p.error, 2000))}\n\`\`\`` } : {}),
    color: COLORS[p.outcome],
    fields,
    timestamp: p.finishedAt,
    footer: { text: `pg-backups ${p.version} · ${p.event}` },
  };
  return { content, embeds: [embed], allowed_mentions: { parse: [] } };
}
