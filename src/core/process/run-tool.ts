// The one wrapper for child processes. Streams in and out; stderr is kept (its tail) for the error
// message; an AbortSignal kills the whole process group; secrets travel in the environment only.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { AbortedError, ExternalError } from '../errors.js';
import { redact } from '../secrets.js';
import { childEnv } from './child-env.js';

export interface ToolSpec {
  command: string;
  args: string[];
  /** Added to the filtered parent environment (see childEnv). */
  env?: Record<string, string>;
  /** What the process does, for messages: e.g. `pg_dump of database "app"`. */
  label: string;
  signal?: AbortSignal;
  stdin?: 'pipe' | 'ignore';
  stdout?: 'pipe' | 'ignore';
}

export interface ToolProcess {
  readonly stdout: Readable;
  readonly stdin: Writable | null;
  /** Resolves on exit code 0; rejects with an ExternalError carrying the tool's own message otherwise. */
  readonly done: Promise<void>;
  /** The tail of what the tool wrote on stderr so far (redacted). */
  stderrText(): string;
  kill(): void;
}

const STDERR_KEEP = 64 * 1024;
const KILL_GRACE_MS = 3000;

export function startTool(spec: ToolSpec): ToolProcess {
  if (spec.signal?.aborted) throw new AbortedError();
  const child = spawn(spec.command, spec.args, {
    env: childEnv(spec.env),
    stdio: [spec.stdin ?? 'ignore', spec.stdout ?? 'pipe', 'pipe'],
    detached: true, // own process group: abort kills the tool and anything it started
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    stderr += chunk;
    if (stderr.length > STDERR_KEEP * 2) stderr = stderr.slice(-STDERR_KEEP);
  });

  let killedByUs = false;
  const kill = () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    killedByUs = true;
    // Unread output would keep the pipes (and so 'close') open forever: nobody wants it now.
    child.stdout?.destroy();
    child.stdin?.destroy();
    killGroup(child, 'SIGTERM');
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), KILL_GRACE_MS);
    timer.unref();
  };
  const onAbort = () => kill();
  spec.signal?.addEventListener('abort', onAbort, { once: true });

  const done = new Promise<void>((resolve, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      spec.signal?.removeEventListener('abort', onAbort);
      const why = err.code === 'ENOENT' ? `${spec.command} was not found` : err.message;
      reject(new ExternalError(redact(`${spec.label} could not start: ${why}`)));
    });
    child.once('close', (code, signal) => {
      spec.signal?.removeEventListener('abort', onAbort);
      if (code === 0) return resolve();
      if (killedByUs || spec.signal?.aborted) return reject(new AbortedError(`${spec.label} was stopped`));
      const how = signal ? `was killed by ${signal}` : `failed (exit code ${code})`;
      const text = lastLines(stderr);
      reject(new ExternalError(redact(text ? `${spec.label} ${how}: ${text}` : `${spec.label} ${how}`)));
    });
  });
  // The caller awaits `done`; this keeps an early rejection from counting as unhandled.
  done.catch(() => {});

  return {
    get stdout(): Readable {
      if (!child.stdout) throw new Error(`startTool: stdout of ${spec.label} was not piped`);
      return child.stdout;
    },
    stdin: child.stdin,
    done,
    stderrText: () => redact(stderr.slice(-STDERR_KEEP)),
    kill,
  };
}

/** Runs a tool to the end and returns its output (for short outputs such as --version). */
export async function runTool(spec: ToolSpec): Promise<{ stdout: string; stderr: string }> {
  const proc = startTool({ ...spec, stdout: 'pipe' });
  let stdout = '';
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (chunk: string) => {
    if (stdout.length < 1024 * 1024) stdout += chunk;
  });
  await proc.done;
  return { stdout, stderr: proc.stderrText() };
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

/** The tool's own error lines, without its noise, as one line. */
function lastLines(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  const errors = lines.filter((l) => /error|fatal|failed|could not|permission denied|no such/i.test(l));
  const picked = (errors.length > 0 ? errors : lines).slice(-3);
  return picked.join(' | ').slice(0, 2000);
}
