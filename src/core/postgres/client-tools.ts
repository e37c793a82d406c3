// Finding PostgreSQL client tools (pg_dump, pg_dumpall, psql, pg_restore) of a given major or
// newer: PG_BIN_DIR when set; otherwise the oldest acceptable major found in the usual install
// places per major and on PATH (the exact major first, wherever it is).
import { access, readdir } from 'node:fs/promises';
import { constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { UsageError } from '../errors.js';
import { runTool } from '../process/run-tool.js';

export type ToolName = 'pg_dump' | 'pg_dumpall' | 'psql' | 'pg_restore';

export interface ClientTools {
  dir: string;
  /** e.g. "17.6" */
  version: string;
  major: number;
  /** Where it was found: PG_BIN_DIR, an install place, or PATH. */
  origin: 'PG_BIN_DIR' | 'install place' | 'PATH';
  path(tool: ToolName): string;
}

export interface ToolSearch {
  /** The oldest acceptable major (the server's, for dumps; the dump's, for restores). */
  minMajor: number;
  /** What needs it, for the message: e.g. "the server at postgres@db:5432 (PostgreSQL 17.2)". */
  purpose: string;
  tools: ToolName[];
  pgBinDir?: string;
  /** PATH to search (default process.env.PATH). */
  pathEnv?: string;
  /** Install-place patterns; {N} stands for the major (default INSTALL_PLACES). */
  installPlaces?: string[];
}

export const INSTALL_PLACES = [
  '/usr/lib/postgresql/{N}/bin',
  '/usr/libexec/postgresql{N}',
  '/usr/pgsql-{N}/bin',
  '/usr/local/pgsql/{N}/bin',
  '/opt/postgresql/{N}/bin',
  '/opt/homebrew/opt/postgresql@{N}/bin',
];

interface Found {
  dir: string;
  version: string;
  major: number;
}

export async function findClientTools(search: ToolSearch): Promise<ClientTools> {
  const seen: Found[] = [];
  const accept = (found: Found | undefined, origin: ClientTools['origin']): ClientTools | undefined => {
    if (!found) return undefined;
    if (found.major >= search.minMajor) return toClientTools(found, origin);
    seen.push(found);
    return undefined;
  };

  if (search.pgBinDir !== undefined) {
    const found = await probeDir(search.pgBinDir, search.tools);
    if (!found) {
      throw new UsageError(`PG_BIN_DIR=${search.pgBinDir} does not hold ${search.tools.join(' and ')}; point it at the bin folder of PostgreSQL ${search.minMajor} or newer, e.g. PG_BIN_DIR=/usr/lib/postgresql/${search.minMajor}/bin`);
    }
    const tools = accept(found, 'PG_BIN_DIR');
    if (tools) return tools;
    throw new UsageError(`PG_BIN_DIR=${search.pgBinDir} holds ${search.tools[0]} ${found.version}, too old for ${search.purpose}; ${howToGet(search.minMajor)}`);
  }

  // The oldest acceptable major wins wherever it is (the server's own major when it exists, for
  // dumps that read back into that major as they are); within a major, install places before PATH.
  let best: ClientTools | undefined;
  const consider = (tools: ClientTools | undefined) => {
    if (tools && (!best || tools.major < best.major)) best = tools;
  };
  for (const place of await installPlaceCandidates(search.installPlaces ?? INSTALL_PLACES, search.minMajor)) {
    consider(accept(await probeDir(place, search.tools), 'install place'));
    if (best?.major === search.minMajor) return best;
  }
  const pathDirs = (search.pathEnv ?? process.env.PATH ?? '').split(delimiter).filter((d) => d.length > 0);
  for (const dir of pathDirs) {
    consider(accept(await probeDir(dir, search.tools), 'PATH'));
    if (best?.major === search.minMajor) return best;
  }
  if (best) return best;

  const tooOld = seen.length > 0 ? `; found only ${seen.map((f) => `${search.tools[0]} ${f.version} in ${f.dir}`).join(', ')}` : '';
  throw new UsageError(`no ${search.tools[0]} of PostgreSQL ${search.minMajor} or newer was found for ${search.purpose}${tooOld}; ${howToGet(search.minMajor)}`);
}

function howToGet(major: number): string {
  return `install the PostgreSQL ${major} client tools (Debian/Ubuntu: apt-get install postgresql-client-${major} from apt.postgresql.org; Alpine: apk add postgresql${major}-client; RHEL: dnf install postgresql${major}) or set PG_BIN_DIR to their bin folder, e.g. PG_BIN_DIR=/usr/lib/postgresql/${major}/bin`;
}

function toClientTools(found: Found, origin: ClientTools['origin']): ClientTools {
  return { ...found, origin, path: (tool) => join(found.dir, tool) };
}

/** Existing install places for majors >= minMajor: the exact major first, then newer ones ascending. */
async function installPlaceCandidates(patterns: string[], minMajor: number): Promise<string[]> {
  const found: Array<{ major: number; order: number; dir: string }> = [];
  for (const [order, pattern] of patterns.entries()) {
    const [before, after] = pattern.split('{N}') as [string, string];
    const parent = before.slice(0, before.lastIndexOf('/') + 1);
    const prefix = before.slice(parent.length);
    let entries: string[];
    try {
      entries = await readdir(parent);
    } catch {
      continue;
    }
    for (const entry of entries) {
      if (!entry.startsWith(prefix)) continue;
      const rest = entry.slice(prefix.length);
      const m = /^(\d+)(.*)$/.exec(rest);
      if (!m || !after.startsWith(m[2]!)) continue;
      const major = Number(m[1]);
      if (major >= minMajor) found.push({ major, order, dir: parent + entry + after.slice(m[2]!.length) });
    }
  }
  found.sort((a, b) => a.major - b.major || a.order - b.order);
  return found.map((f) => f.dir);
}

async function probeDir(dir: string, tools: ToolName[]): Promise<Found | undefined> {
  for (const tool of tools) {
    try {
      await access(join(dir, tool), constants.X_OK);
    } catch {
      return undefined;
    }
  }
  const version = await toolVersion(join(dir, tools[0]!));
  if (!version) return undefined;
  return { dir, version, major: Number(version.split('.')[0]) };
}

/** "pg_dump (PostgreSQL) 17.6 (Debian 17.6-1)" -> "17.6" */
export async function toolVersion(path: string): Promise<string | undefined> {
  try {
    const { stdout } = await runTool({ command: path, args: ['--version'], label: path, signal: AbortSignal.timeout(15000) });
    return parseToolVersion(stdout);
  } catch {
    return undefined;
  }
}

export function parseToolVersion(text: string): string | undefined {
  const m = /\(PostgreSQL\)\s+(\d+(?:\.\d+)*)/.exec(text);
  return m?.[1];
}

/**
 * The release that fixed CVE-2025-8715 (object names with newlines written as they are into
 * comments of a dump, where they could start lines of their own): 18.0 / 17.6 / 16.10 / 15.14 /
 * 14.19 / 13.22. The same release taught psql \restrict.
 */
export function knowsRestrict(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  const since: Record<number, number> = { 13: 22, 14: 19, 15: 14, 16: 10, 17: 6 };
  if (major >= 18) return true;
  const m = since[major];
  return m !== undefined && minor >= m;
}
