// Colour only as an extra: every state also says itself in words or marks. NO_COLOR turns it off.
import { createContext, useContext, type ReactNode } from 'react';
import { Text } from 'ink';

export const ColorContext = createContext(true);

export type ToneName = 'ok' | 'bad' | 'warn' | 'busy' | 'dim' | 'accent';

const COLORS: Record<ToneName, string> = { ok: 'green', bad: 'red', warn: 'yellow', busy: 'cyan', dim: 'gray', accent: 'cyan' };

export function Tone(props: { tone?: ToneName; bold?: boolean; inverse?: boolean; wrap?: 'truncate-end' | 'wrap'; children: ReactNode }) {
  const color = useContext(ColorContext);
  return (
    <Text color={color && props.tone ? COLORS[props.tone] : undefined} bold={props.bold} inverse={props.inverse} wrap={props.wrap ?? 'truncate-end'}>
      {props.children}
    </Text>
  );
}

/** Whether colour is wanted: NO_COLOR (any non-empty value) turns it off, as https://no-color.org asks. */
export function colorWanted(env: NodeJS.ProcessEnv): boolean {
  return !env.NO_COLOR;
}
