// psql fed from a .sql.gz: file -> gunzip -> SqlRewriter -> psql's stdin, streamed with
// backpressure. psql runs with -X -w -v ON_ERROR_STOP=1 and the password only in its environment.
// When the input fails (damaged gzip, incomplete SQL, a refused statement) psql is killed before it
// could see the end of its input, so it never finishes a half-fed script as if it were whole.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Phase } from '../progress.js';
import { createGunzip } from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import type { Readable, Transform, Writable } from 'node:stream';
import { FileDamage, gzipProblem } from '../file-check.js';
import { AbortedError, ExternalError, VerificationError, messageOf } from '../errors.js';
import { redact } from '../secrets.js';
import { startTool } from '../process/run-tool.js';
import { decryptStages } from '../encryption/age-stream.js';
import type { ClientTools } from '../postgres/client-tools.js';
import { libpqEnv, type ConnectionSettings } from '../settings/connection.js';
import { SqlRewriter, type RewriteOptions, type TocMark } from './sql-rewrite.js';
import { isArchiveName } from '../backup/names.js';
import { archiveToSql } from './archive-stream.js';
import { drained } from '../process/drained.js';
import { Readable as ReadableStream } from 'node:stream';

export interface PsqlRun {
  tools: ClientTools;
  conn: ConnectionSettings;
  /** The database psql connects to first. */
  database: string;
  file: string;
  rewrite: RewriteOptions;
  signal: AbortSignal;
  label: string;
  /** psql's application_name (unique per run: its server sessions can be found and ended). */
  appName: string;
  /** Instead of `file`: bytes streamed from a source, checked on their way (the one-pass restore). */
  input?: StreamedInput;
  /**
   * Progress: with the file's uncompressed size (from the manifest), the SQL bytes fed to psql;
   * without it, the compressed bytes read, against the file's size.
   */
  progress?: { phase: Phase; rawTotal?: number };
  /**
   * A custom-format archive (a .dump file, by its name): pg_restore --create -f - turns it into the
   * SQL script on its way (instead of gunzip). `path`: pg_restore reads that local, already checked
   * file itself (nothing is streamed); `args`: more pg_restore options (a -L list).
   */
  archive?: { path?: string; args?: string[] };
}

/** A backup file read once: from its source, through checks (and a saved copy), into gunzip and psql. */
export interface StreamedInput {
  /** The file's name in the backup. */
  name: string;
  /** The file for messages: `postgres_db_app.sql.gz of backup 20250101_120000 on s3 s3://...`. */
  label: string;
  /** Its compressed size. */
  size: number;
  /** Opens the compressed bytes. */
  open(signal: AbortSignal): Promise<Readable>;
  /** The stages the bytes pass before gunzip (size/sha256/gzip check, a copy to RESTORE_DIR), new for each run. */
  stages(): Transform[];
}

export interface PsqlResult {
  rewriter: SqlRewriter;
  warnings: string[];
}

/** psql failed on the SQL: its own message, and where in the file. */
export class PsqlFailure extends Error {
  constructor(
    readonly psqlMessage: string,
    readonly where: string | undefined,
  ) {
    super(where ? `${psqlMessage} (at ${where})` : psqlMessage);
  }
}

export async function runPsqlFile(run: PsqlRun): Promise<PsqlResult> {
  if (run.signal.aborted) throw new AbortedError();
  const rewriter = new SqlRewriter(run.rewrite);
  // The input first: a source that cannot be read fails before psql starts.
  const direct = run.archive?.path !== undefined; // pg_restore reads the file: nothing to stream
  const input: Readable = direct ? ReadableStream.from([]) : run.input ? await run.input.open(run.signal) : createReadStream(run.file);
  // An encrypted file (.age) is decrypted after the checks of its stored bytes, on its way into gunzip.
  const stages = direct ? [] : run.input ? [...run.input.stages(), ...decryptStages(run.input.name)] : decryptStages(run.file);
  const name = run.input?.name ?? run.file;
  const decoder =
    run.archive || isArchiveName(name)
      ? archiveToSql({ tools: run.tools, label: run.input?.label ?? run.rewrite.label ?? name, path: run.archive?.path, args: run.archive?.args, signal: run.signal })
      : createGunzip();
  const env = libpqEnv(run.conn, run.database);
  env.PGAPPNAME = run.appName;
  const proc = startTool({
    command: run.tools.path('psql'),
    args: ['-X', '-w', '-q', '-v', 'ON_ERROR_STOP=1', '-v', 'VERBOSITY=default', '-f', '-'],
    env,
    label: run.label,
    signal: run.signal,
    stdin: 'pipe',
    stdout: 'ignore',
  });
  const stdin = proc.stdin!;
  stdin.on('error', () => {}); // EPIPE when psql stopped early: psql's own exit says why

  let feedError: unknown;
  let psqlGone = false;
  try {
    const progress = run.progress;
    const onFed = progress && progress.rawTotal !== undefined ? () => progress.phase.update(rewriter.bytesIn, rewriter.currentObject) : undefined;
    if (progress && progress.rawTotal === undefined && !direct) {
      progress.phase.setTotal(run.input ? run.input.size : (await stat(run.file)).size);
      let read = 0;
      input.on('data', (chunk: Buffer) => progress.phase.update((read += chunk.length), rewriter.currentObject));
    } else if (progress && progress.rawTotal !== undefined) progress.phase.setTotal(progress.rawTotal);
    // (pipeline's typings have no overload for a variable number of stages)
    await (pipeline as (...streams: unknown[]) => Promise<void>)(input, ...stages, decoder, rewriter, (src: AsyncIterable<Buffer>) => feed(src, stdin, onFed), { signal: run.signal });
    onFed?.(); // the last bytes the rewriter read (it may hold back a partial line until the end)
    stdin.end();
  } catch (err) {
    feedError = err;
    // psql closed its input (it stopped at an error): its exit status and message are what counts.
    // Otherwise the input failed: kill psql before it could read the end of a half-fed script.
    const code = (err as NodeJS.ErrnoException).code;
    psqlGone = !run.signal.aborted && (err instanceof PsqlGone || stdin.destroyed || code === 'EPIPE' || code === 'ABORT_ERR' || code === 'ERR_STREAM_DESTROYED');
    if (psqlGone && (err instanceof VerificationError || err instanceof FileDamage)) psqlGone = false;
    if (!psqlGone) proc.kill();
  }
  let psqlError: unknown;
  try {
    await proc.done;
  } catch (err) {
    psqlError = err;
  }
  const stderr = proc.stderrText();
  if (run.signal.aborted) throw new AbortedError(`${run.label} was stopped`);
  if (feedError !== undefined && !psqlGone) {
    if (feedError instanceof FileDamage) throw new VerificationError(`${run.input?.label ?? run.rewrite.label ?? run.file} is damaged: ${feedError.problem}; refusing to restore it`);
    if (feedError instanceof VerificationError || feedError instanceof AbortedError || feedError instanceof ExternalError) throw feedError;
    const code = (feedError as NodeJS.ErrnoException).code ?? '';
    if (code.startsWith('Z_') || /unexpected end of file|incorrect header check|invalid/i.test(messageOf(feedError))) {
      throw new VerificationError(`${run.input?.label ?? run.rewrite.label ?? run.file} is damaged: ${gzipProblem(feedError)}${run.input ? '; refusing to restore it' : ''}`);
    }
    throw new ExternalError(redact(`reading ${run.file} for psql failed: ${messageOf(feedError)}`));
  }
  if (psqlError !== undefined) {
    if (psqlError instanceof AbortedError) throw psqlError;
    const message = psqlMessage(stderr) ?? messageOf(psqlError);
    throw new PsqlFailure(redact(message), whereInFile(stderr, rewriter.tocMarks));
  }
  if (feedError !== undefined) {
    throw new PsqlFailure(redact(`psql stopped reading its input before the end${psqlMessage(stderr) ? `: ${psqlMessage(stderr)}` : ''}`), undefined);
  }
  return { rewriter, warnings: warningsOf(stderr) };
}

class PsqlGone extends Error {}

async function feed(src: AsyncIterable<Buffer>, stdin: Writable, onFed?: () => void): Promise<void> {
  for await (const chunk of src) {
    onFed?.();
    if (stdin.destroyed || stdin.writableEnded) throw new PsqlGone('psql closed its input');
    if (!stdin.write(chunk)) {
      if (stdin.destroyed) throw new PsqlGone('psql closed its input');
      await drained(stdin);
    }
  }
}

/** psql's error, from its first ERROR/FATAL line on (with DETAIL/HINT), as one line. */
export function psqlMessage(stderr: string): string | undefined {
  const lines = stderr.split('\n').map((l) => l.trimEnd()).filter((l) => l.trim() !== '');
  const first = lines.findIndex((l) => /\b(ERROR|FATAL|PANIC):|^psql: error:|invalid command|could not/.test(l));
  if (first < 0) return lines.length > 0 ? lines.slice(-3).join(' | ').slice(0, 2000) : undefined;
  const picked = [lines[first]!];
  for (const l of lines.slice(first + 1, first + 4)) {
    // Not the LINE n: echo of the statement: it can hold a role's password hash.
    const text = l.replace(/^psql:[^:]*:\d+:\s*/, '').trim();
    if (/^(DETAIL|HINT|CONTEXT):/.test(text)) picked.push(text.slice(0, 300));
    else if (!/^LINE \d+:|^\^$/.test(text)) break;
  }
  return picked.join(' | ').slice(0, 2000);
}

/** "line 1234 of the SQL, TABLE DATA sales.orders" from psql's psql:<stdin>:N: prefix. */
function whereInFile(stderr: string, marks: TocMark[]): string | undefined {
  const m = /psql:[^:\n]*:(\d+):\s*(?:ERROR|FATAL)/.exec(stderr);
  if (!m) return undefined;
  const line = Number(m[1]);
  let mark: TocMark | undefined;
  let lo = 0;
  let hi = marks.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (marks[mid]!.line <= line) {
      mark = marks[mid];
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return mark ? `line ${line} of the SQL, in ${mark.what}` : `line ${line} of the SQL`;
}

function warningsOf(stderr: string): string[] {
  const out: string[] = [];
  for (const l of stderr.split('\n')) {
    const m = /\bWARNING:\s+(.*)$/.exec(l);
    if (m && !out.includes(m[1]!) && out.length < 20) out.push(m[1]!);
  }
  return out;
}
