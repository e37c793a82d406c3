// Every screen's frame: where you are (a breadcrumb) on top, the keys of this screen at the bottom.
import type { ReactNode } from 'react';
import { Box } from 'ink';
import { fit, textWidth } from '../format.js';
import { Tone } from './tone.js';

export function Frame(props: { where: string[]; right?: string; keys: string; columns: number; rows: number; children: ReactNode }) {
  const right = props.right ?? '';
  const title = crumbs(props.where, Math.max(10, props.columns - right.length - 1));
  return (
    <Box flexDirection="column" width={props.columns} height={frameRows(props.rows)}>
      <Box>
        <Box flexGrow={1}>
          <Tone bold>{title}</Tone>
        </Box>
        <Tone tone="dim">{right}</Tone>
      </Box>
      <Box flexDirection="column" flexGrow={1} overflow="hidden">
        {props.children}
      </Box>
      <Tone inverse>{fit(props.keys, props.columns).padEnd(props.columns)}</Tone>
    </Box>
  );
}

/** "pg-backups › a › b › c", the oldest steps left out (…) when it is too long: the current place shows whole. */
export function crumbs(where: string[], width: number): string {
  const parts = [...where];
  let text = `pg-backups › ${parts.join(' › ')}`;
  while (textWidth(text) > width && parts.length > 1) {
    parts.shift();
    text = `pg-backups › … › ${parts.join(' › ')}`;
  }
  return fit(text, width);
}

/**
 * The frame leaves the terminal's last line free: Ink clears the whole terminal on every frame
 * as tall as the terminal, which flickers.
 */
export function frameRows(rows: number): number {
  return Math.max(6, rows - 1);
}

/** The lines the body of a frame has: the frame less the title and the footer. */
export function bodyRows(rows: number): number {
  return frameRows(rows) - 2;
}
