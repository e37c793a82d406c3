// Several servers in one service (seed 000's form): every BACKUP_<NAME>=postgresql://... names a
// server, whose backups go under <BACKUP_DIR>/<name>/ (and <S3_PREFIX>/<name>/, <RSYNC_PATH>/<name>/,
// downloads under <RESTORE_DIR>/<name>/), each with its own run history and health. Without any,
// the one server of the libpq variables (or DATABASE_URL) keeps the layout without a name.
//
// A server's scope is a SettingInput in which those places point into its folder, so every reader
// and command works on one server exactly as it works on the only one.
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { readConnection, type ConnectionSettings } from './connection.js';
import { readLocal } from './backup.js';
import { readRaw, readString, type RawSetting, type SettingInput } from './read.js';

/** BACKUP_* names that are settings, never servers (with or without _FILE). */
const SETTINGS = new Set([
  'DIR',
  'SCHEDULE',
  'ON_START',
  'DATABASES',
  'EXCLUDE_DATABASES',
  'ENCRYPTION',
  'ENCRYPTION_KEY',
  'ENCRYPTION_RECIPIENTS',
  'SIGNING_KEY',
  'FORMAT',
]);

const URL_START = /^postgres(?:ql)?:\/\//i;
const EXAMPLE = 'BACKUP_PROD=postgresql://backup:secret@db.example.com:5432/postgres';

export interface NamedServer {
  /** The folder name: the variable's <NAME> in lower case. */
  name: string;
  /** The variable that names it, for messages: BACKUP_PROD (or BACKUP_PROD_FILE). */
  variable: string;
  url: RawSetting;
}

/** One server's settings: `input` reads its places; `name` is absent for the one libpq server. */
export interface ServerScope {
  name?: string;
  input: SettingInput;
  /** Its BACKUP_<NAME> URL, when named that way (absent for a name given only to pick a folder). */
  url?: RawSetting;
}

/** The servers named by BACKUP_<NAME> variables, by name; [] when none. */
export function readServers(input: SettingInput): NamedServer[] {
  const byName = new Map<string, NamedServer>();
  for (const key of Object.keys(input.env).sort()) {
    const m = /^BACKUP_(.+)$/i.exec(key);
    if (!m || input.env[key] === undefined) continue;
    const rest = m[1]!;
    const base = /_FILE$/i.test(rest) ? rest.slice(0, -5) : rest;
    if (SETTINGS.has(base.toUpperCase()) || base === '') continue;
    const variable = `BACKUP_${base}`;
    if (base !== rest) {
      // BACKUP_<NAME>_FILE: read through readRaw (which also refuses both forms at once).
      if (input.env[variable] !== undefined) continue; // handled under its own key, where readRaw refuses the pair
    } else {
      const value = input.env[key]!;
      if (!URL_START.test(value.trim()) && !/:\/\//.test(value)) continue; // some other BACKUP_* variable, not ours
    }
    const url = readRaw(input, { name: variable, secret: true, what: 'a postgresql:// connection URI', example: EXAMPLE.split('=')[1] })!;
    if (!URL_START.test(url.value.trim())) {
      throw new UsageError(`${url.origin} names a server to back up but is not a postgresql:// URI; e.g. ${EXAMPLE}`);
    }
    const name = base.toLowerCase();
    if (!/^[a-z0-9][a-z0-9_-]*$/.test(name)) {
      throw new UsageError(`${url.origin}: the server name ${JSON.stringify(base)} must be letters, digits, '_' and '-', starting with a letter or digit; e.g. ${EXAMPLE}`);
    }
    const other = byName.get(name);
    if (other) throw new UsageError(`${other.url.origin} and ${url.origin} both name the server ${JSON.stringify(name)} (names are taken in lower case); keep one`);
    byName.set(name, { name, variable, url });
  }
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The same settings, with every place of backups (and downloads) inside the server's folder. */
export function scopedInput(input: SettingInput, name: string): SettingInput {
  const env: NodeJS.ProcessEnv = { ...input.env };
  const flags = { ...input.flags };
  const defaulted = new Set(input.defaulted);
  if (readRaw(input, { name: 'BACKUP_DIR', flag: 'backup-dir' }) === undefined) defaulted.add('BACKUP_DIR');
  env.BACKUP_DIR = join(readLocal(input).backupDir, name);
  delete flags['backup-dir'];
  const prefix = (readString(input, { name: 'S3_PREFIX', flag: 's3-prefix', emptyAllowed: true }) ?? '').replace(/^\/+|\/+$/g, '');
  env.S3_PREFIX = prefix ? `${prefix}/${name}` : name;
  delete flags['s3-prefix'];
  const path = readString(input, { name: 'RSYNC_PATH', flag: 'rsync-path' });
  if (path !== undefined) {
    env.RSYNC_PATH = `${path.replace(/\/+$/, '')}/${name}`;
    delete flags['rsync-path'];
  }
  const restoreDir = readString(input, { name: 'RESTORE_DIR', flag: 'restore-dir' });
  env.RESTORE_DIR = join(restoreDir ?? '/restore', name);
  delete flags['restore-dir'];
  return { ...input, env, flags, defaulted };
}

export interface ScopeOptions {
  /** The server asked for (--server, RESTORE_SERVER): only that one. */
  only?: string;
  /** How the name was given, for messages: "--server" or "RESTORE_SERVER". */
  onlyOrigin?: string;
  /**
   * A name without a BACKUP_<NAME> is still a folder to read (list, verify, restore from a machine
   * that only reads the backups); a backup needs the server's URI.
   */
  folderOnly?: boolean;
}

/**
 * The servers a command works on: every BACKUP_<NAME> server (or the one asked for), else the one
 * libpq server with today's layout. A name that matches no server is refused, naming the servers.
 */
export function readServerScopes(input: SettingInput, opts: ScopeOptions = {}): ServerScope[] {
  const servers = readServers(input);
  const only = opts.only?.trim().toLowerCase();
  if (only !== undefined) {
    const origin = opts.onlyOrigin ?? '--server';
    if (!/^[a-z0-9][a-z0-9_-]*$/.test(only)) {
      throw new UsageError(`${origin}=${JSON.stringify(opts.only)} is not a server name (letters, digits, '_' and '-'); e.g. ${origin}=prod`);
    }
    const found = servers.find((s) => s.name === only);
    if (found) return [{ name: found.name, input: scopedInput(input, found.name), url: found.url }];
    if (servers.length > 0 || !opts.folderOnly) {
      const names = servers.map((s) => s.name).join(', ');
      throw new UsageError(
        servers.length > 0
          ? `${origin}=${opts.only}: no server of that name; the servers are ${names} (from ${servers.map((s) => s.variable).join(', ')})`
          : `${origin}=${opts.only}: no server of that name; name it with BACKUP_${only.toUpperCase()}=postgresql://..., e.g. ${EXAMPLE}`,
      );
    }
    return [{ name: only, input: scopedInput(input, only) }];
  }
  if (servers.length === 0) return [{ input }];
  return servers.map((s) => ({ name: s.name, input: scopedInput(input, s.name), url: s.url }));
}

/** Exactly one scope (verify, restore): several servers need a name. */
export function readOneServerScope(input: SettingInput, opts: ScopeOptions = {}): ServerScope {
  const scopes = readServerScopes(input, opts);
  if (scopes.length > 1) {
    const origin = opts.onlyOrigin ?? '--server';
    throw new UsageError(`several servers are configured (${scopes.map((s) => s.name).join(', ')}); name one with ${origin}, e.g. ${origin}=${scopes[0]!.name}`);
  }
  return scopes[0]!;
}

/**
 * The connection of a server being backed up. Its URI is applied over the libpq variables, as libpq
 * applies a connection string over them (PGUSER, PGPASSWORD, PGSSLMODE, ... fill what it leaves out);
 * a host or a DATABASE_URL given as well would name another server, and is refused.
 */
export function backupConnection(scope: ServerScope): ConnectionSettings {
  if (!scope.url) return readConnection(scope.input);
  refuseOtherServer(scope);
  return readConnection(scope.input, scope.url);
}

/**
 * The server a restore goes to: the one named by PGHOST/--host/DATABASE_URL when given (restore
 * into another server), else the backed-up server's own URI.
 */
export function restoreConnection(scope: ServerScope): ConnectionSettings {
  if (!scope.url || otherServerSetting(scope.input) !== undefined) return readConnection(scope.input);
  return readConnection(scope.input, scope.url);
}

function refuseOtherServer(scope: ServerScope): void {
  const other = otherServerSetting(scope.input);
  if (other !== undefined) {
    throw new UsageError(`${other} is set, and ${scope.url!.origin} names the server ${scope.name} to back up; name every server as BACKUP_<NAME>=postgresql://... and unset ${other} (or use ${other} alone for one server)`);
  }
}

/** The setting that names a server besides BACKUP_<NAME>, if any. */
function otherServerSetting(input: SettingInput): string | undefined {
  if (typeof input.flags.host === 'string') return '--host';
  for (const name of ['DATABASE_URL', 'DATABASE_URL_FILE', 'PGHOST']) if (input.env[name] !== undefined) return name;
  return undefined;
}

/** "prod: " before a line about one of several servers; "" for the one libpq server. */
export function serverPrefix(scope: { name?: string }): string {
  return scope.name ? `${scope.name}: ` : '';
}
