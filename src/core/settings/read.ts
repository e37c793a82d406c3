// Reading raw setting values: a command-line flag wins over an environment variable, and NAME_FILE
// reads a secret from a file (Docker secrets). Parsers turn raw text into typed values and reject
// bad ones with one line that names the setting, the problem and an example of a good value.
//
// An empty value (NAME="", NAME_FILE="", --flag "") is refused with such a line: it is almost always
// an accident (a compose file's ${NAME} of an unset variable, a typo), and quietly taking the default
// for it hides that. Only settings whose spec says `emptyAllowed` (S3_PREFIX: the bucket's top;
// PGPASSWORD: no password, as libpq reads it; BACKUP_EXCLUDE_DATABASES: none excluded) accept it.
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { UsageError, messageOf } from '../errors.js';
import { registerSecret } from '../secrets.js';

export type Flags = Record<string, string | boolean | undefined>;

export interface SettingInput {
  env: NodeJS.ProcessEnv;
  flags: Flags;
  /**
   * Told when a value is taken differently from how it was written (a relative path made
   * absolute), so the command can log it. The readers stay pure: they never log themselves.
   */
  notice?: (message: string) => void;
  /**
   * Settings a server's scope (settings/servers.ts) set from a default: BACKUP_DIR=/backups/prod
   * when BACKUP_DIR was not given. Still "not set by the user" for messages and checks.
   */
  defaulted?: ReadonlySet<string>;
}

export interface SettingSpec {
  /** Environment variable name, e.g. BACKUP_DIR. */
  name: string;
  /** Command-line flag without dashes, e.g. backup-dir. Secrets have none. */
  flag?: string;
  secret?: boolean;
  /** What a good value is, for messages: "a folder", "a bucket name". */
  what?: string;
  /** A good value, e.g. "/backups". */
  example?: string;
  /** What leaving it unset does, completing "or unset it ...": "for the default /backups". */
  ifUnset?: string;
  /** An empty value means something for this setting: it is returned as "" instead of refused. */
  emptyAllowed?: boolean;
}

export interface RawSetting {
  value: string;
  /** How the user set it, for messages: "--backup-dir", "BACKUP_DIR" or "BACKUP_DIR_FILE". */
  origin: string;
}

/** `BACKUP_DIR=/backups` or `--backup-dir /backups`: how to give `value` the way `origin` was given. */
export function assignment(origin: string, value: string): string {
  const shown = value === '' || /[\s'"$`\\;&|<>()]/.test(value) ? `'${value.replace(/'/g, `'\\''`)}'` : value;
  return origin.startsWith('--') ? `${origin} ${shown}` : `${origin}=${shown}`;
}

/** The one line for an empty value: names it, says what a good one is, and what unsetting does. */
export function emptyValueError(spec: SettingSpec, origin: string, blank = false): UsageError {
  const isFlag = origin.startsWith('--');
  const isFileVar = origin === `${spec.name}_FILE`;
  const state = isFlag ? `is given ${blank ? 'only blanks' : 'an empty value'}` : `is set but ${blank ? 'blank' : 'empty'}`;
  if (isFileVar) {
    return new UsageError(
      `${origin} is set but empty; give the path of a file holding ${spec.name}, e.g. ${origin}=/run/secrets/${spec.name.toLowerCase()}, or unset it${spec.ifUnset ? ` ${spec.ifUnset}` : ''}`,
    );
  }
  const what = spec.what ?? 'a value';
  const example = spec.example !== undefined ? `, e.g. ${assignment(origin, spec.example)}` : '';
  const unset = spec.ifUnset ? `, or ${isFlag ? 'leave it out' : 'unset it'} ${spec.ifUnset}` : '';
  return new UsageError(`${origin} ${state}; give ${what}${example}${unset}`);
}

export function readRaw(input: SettingInput, spec: SettingSpec): RawSetting | undefined {
  if (spec.flag !== undefined) {
    const flagValue = input.flags[spec.flag];
    if (typeof flagValue === 'string') return checked(spec, { value: flagValue, origin: `--${spec.flag}` });
    if (flagValue === true) return { value: 'true', origin: `--${spec.flag}` };
  }
  const fileVar = `${spec.name}_FILE`;
  const direct = input.env[spec.name];
  const fileName = input.env[fileVar];
  if (direct !== undefined && fileName !== undefined) {
    throw new UsageError(
      `${spec.name} and ${fileVar} are both set; set only one (e.g. ${fileVar}=/run/secrets/${spec.name.toLowerCase()})`,
    );
  }
  if (fileName !== undefined) {
    if (fileName.trim() === '') throw emptyValueError(spec, fileVar);
    let text: string;
    try {
      text = readFileSync(fileName, 'utf8');
    } catch (err) {
      throw new UsageError(`${fileVar}: cannot read ${fileName}: ${messageOf(err)}; point it at a readable file holding the value`);
    }
    const value = text.replace(/\r?\n$/, '');
    if (value === '' && !spec.emptyAllowed) {
      throw new UsageError(`${fileVar}: ${fileName} is empty; put ${spec.what ?? `the value of ${spec.name}`} in it${spec.example !== undefined && !spec.secret ? `, e.g. ${spec.example}` : ''}, or unset ${fileVar}${spec.ifUnset ? ` ${spec.ifUnset}` : ''}`);
    }
    if (spec.secret) registerSecret(value);
    return { value, origin: fileVar };
  }
  if (direct === undefined) return undefined;
  if (spec.secret) registerSecret(direct);
  return checked(spec, { value: direct, origin: spec.name });
}

/** Refuses an empty value (and, for settings that are not secrets, one of blanks only). */
function checked(spec: SettingSpec, raw: RawSetting): RawSetting {
  if (spec.emptyAllowed) return raw;
  if (raw.value === '') throw emptyValueError(spec, raw.origin);
  if (!spec.secret && raw.value.trim() === '') throw emptyValueError(spec, raw.origin, true);
  return raw;
}

export function readString(input: SettingInput, spec: SettingSpec): string | undefined {
  return readRaw(input, spec)?.value;
}

/**
 * A path on this machine, made absolute against the working directory; a relative one is told to
 * input.notice ("BACKUP_DIR=backups is a relative path; using /work/backups").
 */
export function readPath(input: SettingInput, spec: SettingSpec): string | undefined {
  const raw = readRaw(input, { what: 'a path', ...spec });
  if (!raw) return undefined;
  if (/[\0]/.test(raw.value)) throw new UsageError(`${raw.origin} holds a NUL character; give a path, e.g. ${assignment(raw.origin, spec.example ?? '/backups')}`);
  const absolute = resolve(raw.value);
  if (!isAbsolute(raw.value)) input.notice?.(`${assignment(raw.origin, raw.value)} is a relative path; using ${absolute}`);
  return absolute;
}

export function readInt(
  input: SettingInput,
  spec: SettingSpec,
  opts: { min: number; max: number; default: number; example: string },
): number;
export function readInt(
  input: SettingInput,
  spec: SettingSpec,
  opts: { min: number; max: number; default?: number; example: string },
): number | undefined;
export function readInt(
  input: SettingInput,
  spec: SettingSpec,
  opts: { min: number; max: number; default?: number; example: string },
): number | undefined {
  const range = `a number from ${opts.min} to ${opts.max}`;
  const raw = readRaw(input, {
    what: range,
    example: opts.example,
    ...(opts.default !== undefined ? { ifUnset: `for the default ${opts.default}` } : {}),
    ...spec,
  });
  if (!raw) return opts.default;
  const text = raw.value.trim();
  if (!/^-?\d+$/.test(text)) {
    throw new UsageError(`${raw.origin}=${JSON.stringify(raw.value)} is not a whole number; use ${range}, e.g. ${assignment(raw.origin, opts.example)}`);
  }
  const n = Number(text);
  if (n < opts.min || n > opts.max) {
    throw new UsageError(`${raw.origin}=${text} is out of range; use ${range}, e.g. ${assignment(raw.origin, opts.example)}`);
  }
  return n;
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

export function readBool(input: SettingInput, spec: SettingSpec, dflt: boolean): boolean {
  const raw = readRaw(input, { what: 'true or false', example: 'true', ifUnset: `for the default ${dflt}`, ...spec });
  if (!raw) return dflt;
  const text = raw.value.trim().toLowerCase();
  if (TRUE.has(text)) return true;
  if (FALSE.has(text)) return false;
  throw new UsageError(`${raw.origin}=${JSON.stringify(raw.value)} is not a boolean; use true or false, e.g. ${assignment(raw.origin, 'true')}`);
}

export function readEnum<T extends string>(input: SettingInput, spec: SettingSpec, allowed: readonly T[]): T | undefined {
  const raw = readRaw(input, { what: `one of ${allowed.join(', ')}`, example: allowed[0], ...spec });
  if (!raw) return undefined;
  const text = raw.value.trim();
  if ((allowed as readonly string[]).includes(text)) return text as T;
  throw new UsageError(`${raw.origin}=${JSON.stringify(raw.value)} is not one of ${allowed.join(', ')}; e.g. ${assignment(raw.origin, spec.example ?? allowed[0]!)}`);
}

/**
 * A comma-separated list; blanks around names are trimmed, empty entries dropped. An empty value
 * is [] where the spec allows it (BACKUP_EXCLUDE_DATABASES=""), refused otherwise.
 */
export function readList(input: SettingInput, spec: SettingSpec): string[] | undefined {
  const raw = readRaw(input, { what: 'a comma-separated list', example: 'app,billing', ...spec });
  if (!raw) return undefined;
  if (raw.value === '' && spec.emptyAllowed) return [];
  const items = raw.value.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (items.length === 0) {
    throw new UsageError(`${raw.origin}=${JSON.stringify(raw.value)} names no database; give a comma-separated list, e.g. ${assignment(raw.origin, spec.example ?? 'app,billing')}`);
  }
  return items;
}
