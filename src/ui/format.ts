// Plain text pieces of the screens: ages, sizes, bars, one-line names. No ink, no colour.
import { formatDuration } from '../core/progress.js';
export { formatBytes } from '../commands/output.js';
export { formatDuration };

/** "just now", "5m ago", "3h ago", "2d ago"; a time ahead of `now` is "in the future". */
export function formatAge(time: Date, now: Date): string {
  const ms = now.getTime() - time.getTime();
  if (ms < -60_000) return 'in the future';
  const m = Math.floor(Math.max(0, ms) / 60_000);
  if (m < 1) return 'just now';
  if (m < 60) return `${m}m ago`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ago`;
  return `${Math.floor(h / 24)}d ago`;
}

/** A bar of `width` cells that says its fill without colour: [#####-----]. */
export function bar(fraction: number | undefined, width: number): string {
  if (fraction === undefined) return `[${'?'.repeat(Math.max(0, width - 2))}]`;
  const inner = Math.max(0, width - 2);
  const full = Math.round(Math.min(1, Math.max(0, fraction)) * inner);
  return `[${'#'.repeat(full)}${'-'.repeat(inner - full)}]`;
}

/** A name on one line: control characters (a newline in a database name) shown escaped. */
export function oneLine(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Cuts text to `width` terminal cells (code points; wide characters count as two), with an ellipsis. */
export function fit(text: string, width: number): string {
  if (width <= 0) return '';
  if (textWidth(text) <= width) return text;
  let cells = 0;
  let out = '';
  for (const ch of text) {
    const w = cellWidth(ch);
    if (cells + w > width - 1) break;
    out += ch;
    cells += w;
  }
  return `${out}…`;
}

/** Terminal cells of a character: 2 for East Asian wide and emoji ranges, else 1. */
export function cellWidth(ch: string): number {
  const cp = ch.codePointAt(0) ?? 0;
  if (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  ) {
    return 2;
  }
  return 1;
}

/** Terminal cells of a string. */
export function textWidth(text: string): number {
  let n = 0;
  for (const ch of text) n += cellWidth(ch);
  return n;
}

/** Pads (or cuts) to exactly `width` cells. */
export function cell(text: string, width: number): string {
  const cut = textWidth(text) > width ? fit(text, width) : text;
  return cut + ' '.repeat(Math.max(0, width - textWidth(cut)));
}

/** Wraps text into lines of at most `width` cells, at spaces where it can; later lines indented by `indent` spaces. */
export function wrapText(text: string, width: number, indent = 0): string[] {
  const lines: string[] = [];
  let rest = text;
  let room = Math.max(8, width);
  while (textWidth(rest) > room) {
    let cut = 0;
    let cells = 0;
    let lastSpace = -1;
    const chars = [...rest];
    for (let i = 0; i < chars.length; i++) {
      cells += cellWidth(chars[i]!);
      if (cells > room) break;
      if (chars[i] === ' ') lastSpace = i;
      cut = i + 1;
    }
    const at = lastSpace > room / 3 ? lastSpace : cut;
    lines.push(chars.slice(0, at).join('').trimEnd());
    rest = ' '.repeat(indent) + chars.slice(at).join('').trimStart();
    room = Math.max(8, width);
  }
  lines.push(rest);
  return lines;
}
