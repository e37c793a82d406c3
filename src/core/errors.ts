// Typed errors. Every failure the tool reports is one of these; exitCodeFor() maps them to the
// exit codes of the product contract in one place. Anything else is a bug: one line for the user,
// and the details in a log file (writeInternalErrorLog).
import { closeSync, constants, mkdirSync, openSync, writeSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { redact } from './secrets.js';

/** The user can fix it: a wrong, missing or contradictory setting or argument. Exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Something outside the tool failed: the server, the disk, a client tool, the network. Exit 1. */
export class ExternalError extends Error {
  override readonly name = 'ExternalError';
}

/** A backup was found damaged or incomplete. Exit 3. */
export class VerificationError extends Error {
  override readonly name = 'VerificationError';
}

/** The work was stopped by a signal or by the user. Exit 1. */
export class AbortedError extends Error {
  override readonly name = 'AbortedError';
  constructor(message = 'stopped before it finished') {
    super(message);
  }
}

export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  damaged: 3,
} as const;

export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError) return ExitCode.usage;
  if (err instanceof VerificationError) return ExitCode.damaged;
  return ExitCode.failed;
}

/** Whether this is one of the typed errors above (anything else reaching the top is a bug). */
export function isKnownError(err: unknown): boolean {
  return err instanceof UsageError || err instanceof ExternalError || err instanceof VerificationError || err instanceof AbortedError || isAbortError(err);
}

/** A library's own AbortError (fetch, streams, timers) raised by our signal: a stop, not a bug. */
function isAbortError(err: unknown): boolean {
  return err instanceof Error && err.name === 'AbortError';
}

/** Where the details of an internal error went: the log file, or why none could be written. */
export type InternalErrorLog = { path: string } | { problem: string };

/**
 * One line for the user: the message of a known error, or for a bug a marked internal error with
 * its message only (the stack goes to the log file: see writeInternalErrorLog) and where the
 * details are. Never more than one line.
 */
export function describeError(err: unknown, log?: InternalErrorLog): string {
  if (isAbortError(err)) return redact(oneLine(`stopped before it finished (${(err as Error).message})`));
  if (isKnownError(err)) return redact(oneLine((err as Error).message));
  const message = oneLine(err instanceof Error ? `${err.name && err.name !== 'Error' ? `${err.name}: ` : ''}${messageOf(err)}` : String(err));
  const where = log === undefined ? '' : 'path' in log ? `; details in ${log.path}` : `; the details could not be written to a log file (${oneLine(log.problem)})`;
  return redact(`internal error (a bug in pg-backups, please report it): ${message}${where}`);
}

function oneLine(text: string, max = 2000): string {
  const line = text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max)}...` : line;
}

/**
 * The log files an internal error is appended to, in order: LOG_FILE, else
 * $XDG_STATE_HOME/pg-backups/pg-backups.log or ~/.local/state/pg-backups/pg-backups.log; then, when
 * that cannot be written, <tmpdir>/pg-backups.log.
 */
export function internalErrorLogFiles(env: NodeJS.ProcessEnv, logFile?: string): string[] {
  const state = env.XDG_STATE_HOME && isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : join(env.HOME || homedir(), '.local', 'state');
  const first = logFile ?? join(state, 'pg-backups', 'pg-backups.log');
  const fallback = join(tmpdir(), 'pg-backups.log');
  return first === fallback ? [first] : [first, fallback];
}

export interface InternalErrorContext {
  /** The command that ran (e.g. "backup"); argument values are never logged. */
  command: string;
  /** Names of the flags given (no values). */
  flagNames?: string[];
  version: string;
  env: NodeJS.ProcessEnv;
  /** LOG_FILE, absolute. */
  logFile?: string;
  now?: Date;
}

/**
 * Appends an internal error's full details (stack, causes; redacted) with a timestamp and the
 * command to the first log file that can be written (0600, never through a symlink). Never throws.
 */
export function writeInternalErrorLog(err: unknown, ctx: InternalErrorContext): InternalErrorLog {
  const when = (ctx.now ?? new Date()).toISOString();
  const flags = ctx.flagNames && ctx.flagNames.length > 0 ? ` ${ctx.flagNames.map((f) => `--${f}`).join(' ')}` : '';
  let detail: string;
  try {
    detail = details(err);
  } catch {
    detail = '(the error could not be described)';
  }
  const entry = redact(
    `${when} pg-backups ${ctx.version} (node ${process.version}, pid ${process.pid}): internal error in \`pg-backups ${ctx.command}${flags}\`\n${detail}\n\n`,
  );
  const problems: string[] = [];
  for (const path of internalErrorLogFiles(ctx.env, ctx.logFile)) {
    try {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      const fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
      try {
        writeSync(fd, entry);
      } finally {
        closeSync(fd);
      }
      return { path };
    } catch (e) {
      problems.push(`${path}: ${messageOf(e)}`);
    }
  }
  return { problem: problems.join('; ') };
}

/** The stack of an error and of its causes, or its text. */
function details(err: unknown, depth = 0): string {
  if (!(err instanceof Error)) return String(err);
  let text = err.stack ?? `${err.name}: ${err.message}`;
  if (err instanceof AggregateError) text += err.errors.map((e) => `\n  [one of several] ${details(e, depth + 1)}`).join('');
  if (err.cause !== undefined && depth < 5) text += `\nCaused by: ${details(err.cause, depth + 1)}`;
  return text;
}

export function isAbort(err: unknown, signal?: AbortSignal): boolean {
  return err instanceof AbortedError || (signal?.aborted ?? false) || (err instanceof Error && err.name === 'AbortError');
}

/** The message of any thrown value, for wrapping into a typed error. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
  }
  return String(err);
}
