// Normalized dumps (made with the real PostgreSQL client tools of test/helpers/clients.ts)
// to compare a source server with a restored one, and a psql-based restore exactly as a
// user would run it.
//
// All tools connect over TCP to 127.0.0.1 (the 17/18 clients run in a chroot) and get the
// password from PGPASSWORD in their environment, never in argv.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { clientBinDir, clientMajorFor } from './clients.js';
import type { PgServer } from './pg-server.js';

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** The client tool `tool` (pg_dump, pg_dumpall, psql, pg_restore) suited to a server. */
export function clientTool(server: PgServer, tool: 'pg_dump' | 'pg_dumpall' | 'psql' | 'pg_restore'): string {
  return join(clientBinDir(clientMajorFor(server.major)), tool);
}

/**
 * The environment for a client tool talking to `server`: ours minus any PG* variables
 * (a stray PGSERVICE or PGSSLMODE must not leak in), plus the server's libpq variables.
 */
export function toolEnv(server: PgServer, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('PG')) env[k] = v;
  }
  return { ...env, LC_MESSAGES: 'C', ...server.env(), PGCONNECT_TIMEOUT: '10', ...extra };
}

/** Run a command to completion, collecting stdout/stderr as UTF-8. Never throws for a non-zero exit. */
export function runTool(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      resolve({
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        code: code ?? (signal ? 128 : 1),
      });
    });
  });
}

async function mustRun(what: string, cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const r = await runTool(cmd, args, env);
  if (r.code !== 0) {
    throw new Error(`${what} failed (exit ${r.code}): ${r.stderr.trim() || '(no stderr)'}`);
  }
  return r.stdout;
}

/** Raw `pg_dumpall` output. */
export function dumpCluster(server: PgServer): Promise<string> {
  return mustRun(`pg_dumpall of ${server.major} on port ${server.port}`, clientTool(server, 'pg_dumpall'), ['-w'], toolEnv(server));
}

/** `pg_dumpall`, normalized. */
export async function dumpClusterNormalized(server: PgServer): Promise<string> {
  return normalizeDump(await dumpCluster(server));
}

/** `pg_dumpall -g`, normalized. */
export async function dumpGlobalsNormalized(server: PgServer): Promise<string> {
  return normalizeDump(
    await mustRun(`pg_dumpall -g of ${server.major}`, clientTool(server, 'pg_dumpall'), ['-w', '-g'], toolEnv(server)),
  );
}

/** `pg_dump --create` of one database (the name goes in PGDATABASE: names may contain `=` or spaces), normalized. */
export async function dumpDatabaseNormalized(server: PgServer, db: string): Promise<string> {
  return normalizeDump(
    await mustRun(
      `pg_dump --create of ${JSON.stringify(db)} on ${server.major}`,
      clientTool(server, 'pg_dump'),
      ['-w', '--create'],
      toolEnv(server, { PGDATABASE: db }),
    ),
  );
}

/** `pg_dumpall | gzip > file` (shell pipeline with pipefail; the password only in the env). */
export async function dumpClusterToGzip(server: PgServer, gzFile: string): Promise<void> {
  const r = await runTool(
    'bash',
    ['-c', 'set -o pipefail; "$1" -w | gzip > "$2"', 'bash', clientTool(server, 'pg_dumpall'), gzFile],
    toolEnv(server),
  );
  if (r.code !== 0) throw new Error(`pg_dumpall | gzip failed (exit ${r.code}): ${r.stderr.trim()}`);
}

/**
 * `gunzip -c FILE | psql` exactly as a user would (psql without ON_ERROR_STOP, so it keeps
 * going after errors; -X ignores a ~/.psqlrc, -w never prompts). Connects to
 * `opts.database` (default postgres). Returns psql's output and the pipeline's exit code.
 */
export function psqlRestore(
  server: PgServer,
  sqlGzFile: string,
  opts: { database?: string } = {},
): Promise<RunResult> {
  return runTool(
    'bash',
    ['-c', 'set -o pipefail; gunzip -c -- "$1" | "$2" -X -w', 'bash', sqlGzFile, clientTool(server, 'psql')],
    toolEnv(server, { PGDATABASE: opts.database ?? 'postgres' }),
  );
}

/** The one error expected when restoring pg_dumpall output into a fresh cluster. */
const KNOWN_RESTORE_ERROR = /^(psql:[^:]*:\d+: )?ERROR:\s+role "postgres" already exists$/;

/**
 * Lines of psql's stderr other than the expected `ERROR: role "postgres" already exists`
 * (every other non-blank stderr line is returned: errors, warnings, notices).
 */
export function unexpectedErrors(stderr: string): string[] {
  return stderr
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => l.trim() !== '' && !KNOWN_RESTORE_ERROR.test(l));
}

// ---- normalization ---------------------------------------------------------------------

/**
 * Removes only what legitimately differs between two dumps of equal content:
 * comment lines (`--`, which include the "Dumped from/by" headers), blank lines, and
 * `\restrict KEY` / `\unrestrict KEY` lines (random keys).
 *
 * It never touches the inside of COPY data (a blank line or a line starting with `--` there
 * is a row), nor multi-line string literals, quoted identifiers or dollar-quoted bodies
 * (comments and blank lines inside a function body are part of the object). A COPY header that
 * spans lines (a quoted name with a newline in it) is followed to its `FROM stdin;`.
 */
export function normalizeDump(sql: string): string {
  const out: string[] = [];
  let inCopy = false;
  // A COPY statement whose header spans lines (a quoted table or column name with a newline):
  // its lines so far, until its closing `FROM stdin;`.
  let copyHeader: string[] | null = null;
  // Lexical state carried across lines while inside a statement.
  let quote: "'" | '"' | null = null;
  let dollarTag: string | null = null;

  for (const line of sql.split('\n')) {
    if (inCopy) {
      out.push(line);
      if (line === '\\.') inCopy = false;
      continue;
    }
    const inLiteral = quote !== null || dollarTag !== null;
    if (!inLiteral) {
      const t = line.trim();
      if (t === '') continue;
      if (line.startsWith('--')) continue;
      if (/^\\(un)?restrict(\s|$)/.test(line)) continue;
      if (/^COPY .* FROM stdin;$/.test(line)) {
        out.push(line);
        inCopy = true;
        continue;
      }
      if (line.startsWith('COPY ')) copyHeader = [];
    }
    out.push(line);
    // Advance the lexer over this line.
    let i = 0;
    while (i < line.length) {
      if (dollarTag !== null) {
        const end = line.indexOf(dollarTag, i);
        if (end < 0) break;
        i = end + dollarTag.length;
        dollarTag = null;
        continue;
      }
      if (quote !== null) {
        const end = line.indexOf(quote, i);
        if (end < 0) break;
        i = end + 1;
        quote = null; // a doubled quote just reopens on the next character
        continue;
      }
      const ch = line[i]!;
      if (ch === '-' && line[i + 1] === '-') break; // rest of the line is a comment
      if (ch === "'" || ch === '"') {
        quote = ch;
        i++;
        continue;
      }
      if (ch === '$' && !/[A-Za-z0-9_$]/.test(line[i - 1] ?? ' ')) {
        const m = /^\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(line.slice(i));
        if (m) {
          dollarTag = m[0];
          i += m[0].length;
          continue;
        }
      }
      i++;
    }
    if (copyHeader !== null) {
      copyHeader.push(line);
      if (quote === null && dollarTag === null && line.trimEnd().endsWith(';')) {
        inCopy = /^COPY [\s\S]* FROM stdin;$/.test(copyHeader.join('\n'));
        copyHeader = null;
      }
    }
  }
  return out.join('\n') + '\n';
}

// ---- comparison --------------------------------------------------------------------------

/** A short unified-diff-like excerpt around the first differing lines, or null when equal. */
export function dumpDiffExcerpt(a: string, b: string, maxLines = 25, context = 3): string | null {
  if (a === b) return null;
  const al = a.split('\n');
  const bl = b.split('\n');
  let start = 0;
  while (start < al.length && start < bl.length && al[start] === bl[start]) start++;
  let endA = al.length;
  let endB = bl.length;
  while (endA > start && endB > start && al[endA - 1] === bl[endB - 1]) {
    endA--;
    endB--;
  }
  const lines: string[] = [];
  lines.push(`@@ -${start + 1},${endA - start} +${start + 1},${endB - start} @@ (first difference at line ${start + 1}; ${al.length} vs ${bl.length} lines)`);
  for (let k = Math.max(0, start - context); k < start; k++) lines.push(`  ${al[k]}`);
  const removed = al.slice(start, endA);
  const added = bl.slice(start, endB);
  for (const l of removed.slice(0, maxLines)) lines.push(`- ${l}`);
  if (removed.length > maxLines) lines.push(`- ... ${removed.length - maxLines} more lines`);
  for (const l of added.slice(0, maxLines)) lines.push(`+ ${l}`);
  if (added.length > maxLines) lines.push(`+ ... ${added.length - maxLines} more lines`);
  for (let k = endA; k < Math.min(al.length, endA + context); k++) lines.push(`  ${al[k]}`);
  return lines.join('\n');
}

/** Throws with a short diff excerpt when the two (normalized) dumps differ. */
export function expectSameDump(a: string, b: string, label: string): void {
  const excerpt = dumpDiffExcerpt(a, b);
  if (excerpt !== null) {
    throw new Error(`${label}: dumps differ (- first, + second)\n${excerpt}`);
  }
}
