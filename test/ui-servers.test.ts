// The server picker, shown first when several servers are configured: its keys (plain state) and
// its screen drawn by Ink (ink-testing-library) at 80 columns.
import { afterEach, describe, expect, it } from 'vitest';
import { createElement as h } from 'react';
import { cleanup, render } from 'ink-testing-library';
import { ServersScreen } from '../src/ui/screens/servers-screen.js';
import { ColorContext } from '../src/ui/screens/tone.js';
import { serverPickKey, type ServerChoice, type ServerPickState } from '../src/ui/state/server-pick.js';

afterEach(() => cleanup());

const SERVERS: ServerChoice[] = [
  { name: 'alpha', where: 'backup@db1:5432', backupDir: '/backups/alpha' },
  { name: 'beta', where: 'backup@db2:5432', backupDir: '/backups/beta' },
  { name: 'a-very-long-server-name-that-goes-on', where: 'backup@a-really-long-host-name.internal.example.com:5432', backupDir: '/backups/a-very-long-server-name-that-goes-on' },
];

describe('server picker keys', () => {
  const start: ServerPickState = { servers: SERVERS, cursor: 0 };
  it('moves within the list, Enter or a digit picks, q/Esc/Ctrl-C leave', () => {
    let s = start;
    for (const key of [{ downArrow: true }, { downArrow: true }, { downArrow: true }]) {
      const o = serverPickKey(s, '', key);
      if (!('state' in o)) throw new Error('expected a move');
      s = o.state;
    }
    expect(s.cursor).toBe(2); // stops at the end
    expect(serverPickKey(s, '', { return: true })).toEqual({ chosen: SERVERS[2] });
    expect(serverPickKey(start, '2', {})).toEqual({ chosen: SERVERS[1] });
    expect(serverPickKey(start, '7', {})).toEqual({ state: start }); // no 7th server
    expect(serverPickKey(start, 'q', {})).toEqual({ quit: true });
    expect(serverPickKey(start, '', { escape: true })).toEqual({ quit: true });
    expect(serverPickKey(start, 'c', { ctrl: true })).toEqual({ quit: true });
    expect(serverPickKey(start, '', { upArrow: true })).toEqual({ state: start });
  });
});

describe('server picker screen', () => {
  it('says where you are and what to do, marks the cursor, fits the terminal (ink-testing-library: 100 columns)', async () => {
    const chosen: string[] = [];
    const { lastFrame, stdin } = render(
      h(ColorContext.Provider, { value: false }, h(ServersScreen, { servers: SERVERS, onChoose: (s: ServerChoice) => chosen.push(s.name), onQuit: () => chosen.push('quit') })),
    );
    const frame = lastFrame() ?? '';
    expect(frame).toContain('pg-backups › servers');
    expect(frame).toContain("Which server's backups?");
    expect(frame).toMatch(/› 1\s+alpha\s+backup@db1:5432\s+backups in \/backups\/alpha/);
    expect(frame).toMatch(/Enter open .* q quit/);
    for (const line of frame.split('\n')) expect([...line].length).toBeLessThanOrEqual(100);
    stdin.write('\x1b[B');
    await new Promise((r) => setTimeout(r, 50));
    expect(lastFrame()).toMatch(/› 2\s+beta/);
    stdin.write('\r');
    await new Promise((r) => setTimeout(r, 50));
    expect(chosen).toEqual(['beta']);
  });
});
