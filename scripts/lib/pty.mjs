// A program in a real pseudo-terminal (@lydell/node-pty), its screen held by a headless xterm
// (@xterm/headless) for assertions: the terminal UI's end-to-end tests (test/helpers/pty.ts) and the
// restore image's screen test (scripts/build-images.mjs) drive pg-backups through it as a person
// would. The child's environment never carries CI or CONTINUOUS_INTEGRATION: Ink draws
// non-interactively (no raw keys, no redraws) when they are set, and test runs set CI=true.
// Types: pty.d.mts.
import pty from '@lydell/node-pty';
import xterm from '@xterm/headless';

const { Terminal } = xterm;

export const KEY = {
  enter: '\r',
  esc: '\x1b',
  ctrlC: '\x03',
  up: '\x1b[A',
  down: '\x1b[B',
  backspace: '\x7f',
};

export function spawnInPty(file, args, env, opts = {}) {
  const columns = opts.columns ?? 80;
  const rows = opts.rows ?? 24;
  const childEnv = { ...env, TERM: 'xterm-256color' };
  delete childEnv.CI;
  delete childEnv.CONTINUOUS_INTEGRATION;
  const term = new Terminal({ cols: columns, rows, allowProposedApi: true, scrollback: 1000 });
  const child = pty.spawn(file, args, { name: 'xterm-256color', cols: columns, rows, cwd: opts.cwd ?? process.cwd(), env: childEnv });
  let raw = '';
  let pending = 0;
  child.onData((d) => {
    raw += d;
    pending++;
    term.write(d, () => pending--);
  });
  let running = true;
  const exited = new Promise((resolve) =>
    child.onExit((e) => {
      running = false;
      resolve(e);
    }),
  );
  const screen = () => {
    const buf = term.buffer.active;
    const out = [];
    for (let i = 0; i < term.rows; i++) out.push(buf.getLine(buf.viewportY + i)?.translateToString(true) ?? '');
    return out.join('\n').replace(/\n+$/, '');
  };
  return {
    pid: child.pid,
    screen,
    output: () => raw,
    async waitForText(pattern, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        // Not waiting for xterm to have parsed everything: a screen redrawn every tick would never be idle.
        const now = screen();
        if (pattern.test(now)) return now;
        if (Date.now() > deadline) {
          throw new Error(`the screen did not show ${pattern} within ${timeoutMs} ms${running ? '' : ' (the program has exited)'}${pending ? ` (${pending} writes not parsed yet)` : ''}; it shows:\n${screen()}\n---`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async press(...keys) {
      for (const k of keys) {
        child.write(k);
        // One key at a time, as a person types: Ink reads a burst as a paste.
        await new Promise((r) => setTimeout(r, 60));
      }
    },
    resize(c, r) {
      child.resize(c, r);
      term.resize(c, r);
    },
    exited,
    running: () => running,
    kill(signal = 'SIGKILL') {
      if (running) child.kill(signal);
    },
  };
}

/**
 * Ends a session a test or check left running: Ctrl-C twice (stop the work at once, with its
 * cleanup, and leave), then `signal` if it has not ended within `graceMs`. Resolves once it has.
 */
export async function endSession(session, { graceMs = 30_000, signal = 'SIGKILL' } = {}) {
  await session.press(KEY.ctrlC, KEY.ctrlC).catch(() => {});
  const ended = await Promise.race([session.exited.then(() => true), new Promise((r) => setTimeout(() => r(false), graceMs))]);
  if (!ended) {
    session.kill(signal);
    await session.exited;
  }
}
