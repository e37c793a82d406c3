// Types of pty.mjs (a program in a pseudo-terminal, its screen in a headless xterm).

export declare const KEY: {
  readonly enter: '\r';
  readonly esc: '\x1b';
  readonly ctrlC: '\x03';
  readonly up: '\x1b[A';
  readonly down: '\x1b[B';
  readonly backspace: '\x7f';
};

export interface PtySession {
  pid: number;
  /** The terminal's rows as text, trailing blanks trimmed. */
  screen(): string;
  /** Everything the program wrote (escape sequences and all). */
  output(): string;
  /** Waits until the screen matches; fails with the screen in the message. */
  waitForText(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Types keys (a string goes as typed; see KEY). */
  press(...keys: string[]): Promise<void>;
  resize(columns: number, rows: number): void;
  /** Resolves with the exit code once the program has ended. */
  exited: Promise<{ exitCode: number; signal?: number }>;
  /** Whether the program still runs. */
  running(): boolean;
  /** Sends a signal (default SIGKILL) if still running. */
  kill(signal?: string): void;
}

export interface PtyOptions {
  columns?: number;
  rows?: number;
  cwd?: string;
}

/** Runs `file args` in a pseudo-terminal of the given size; TERM=xterm-256color, no CI in its environment. */
export declare function spawnInPty(file: string, args: string[], env: Record<string, string>, opts?: PtyOptions): PtySession;

/** Ctrl-C twice, then `signal` (default SIGKILL) after `graceMs` (default 30 s); resolves once the program has ended. */
export declare function endSession(session: PtySession, opts?: { graceMs?: number; signal?: string }): Promise<void>;
