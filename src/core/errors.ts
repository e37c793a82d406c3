// Typed errors. Every failure the tool reports is one of these; exitCodeFor() maps them to the
// exit codes of the product contract in one place.

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

/** One line for the user: the message of a known error, or a marked internal error for a bug. */
export function describeError(err: unknown): string {
  if (err instanceof UsageError || err instanceof ExternalError || err instanceof VerificationError || err instanceof AbortedError) {
    return err.message;
  }
  const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
  return `internal error (a bug in pg-backups, please report it): ${detail}`;
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
