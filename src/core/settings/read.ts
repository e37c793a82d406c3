// Reading raw setting values: a command-line flag wins over an environment variable, and NAME_FILE
// reads a secret from a file (Docker secrets). Parsers turn raw text into typed values and reject
// bad ones with one line that names the setting, the problem and an example of a good value.
import { readFileSync } from 'node:fs';
import { UsageError, messageOf } from '../errors.js';
import { registerSecret } from '../secrets.js';

export type Flags = Record<string, string | boolean | undefined>;

export interface SettingInput {
  env: NodeJS.ProcessEnv;
  flags: Flags;
}

export interface SettingSpec {
  /** Environment variable name, e.g. BACKUP_DIR. */
  name: string;
  /** Command-line flag without dashes, e.g. backup-dir. Secrets have none. */
  flag?: string;
  secret?: boolean;
}

export interface RawSetting {
  value: string;
  /** How the user set it, for messages: "--backup-dir", "BACKUP_DIR" or "BACKUP_DIR_FILE". */
  origin: string;
}

export function readRaw(input: SettingInput, spec: SettingSpec): RawSetting | undefined {
  if (spec.flag !== undefined) {
    const flagValue = input.flags[spec.flag];
    if (typeof flagValue === 'string') return { value: flagValue, origin: `--${spec.flag}` };
    if (flagValue === true) return { value: 'true', origin: `--${spec.flag}` };
  }
  const direct = input.env[spec.name];
  const fileName = input.env[`${spec.name}_FILE`];
  if (direct !== undefined && direct !== '' && fileName !== undefined && fileName !== '') {
    throw new UsageError(
      `${spec.name} and ${spec.name}_FILE are both set; set only one (e.g. ${spec.name}_FILE=/run/secrets/${spec.name.toLowerCase()})`,
    );
  }
  if (fileName !== undefined && fileName !== '') {
    let text: string;
    try {
      text = readFileSync(fileName, 'utf8');
    } catch (err) {
      throw new UsageError(`${spec.name}_FILE: cannot read ${fileName}: ${messageOf(err)}; point it at a readable file holding the value`);
    }
    const value = text.replace(/\r?\n$/, '');
    if (spec.secret) registerSecret(value);
    return { value, origin: `${spec.name}_FILE` };
  }
  if (direct === undefined || direct === '') return undefined;
  if (spec.secret) registerSecret(direct);
  return { value: direct, origin: spec.name };
}

export function readString(input: SettingInput, spec: SettingSpec): string | undefined {
  return readRaw(input, spec)?.value;
}

export function readInt(
  input: SettingInput,
  spec: SettingSpec,
  opts: { min: number; max: number; default: number; example: string },
): number {
  const raw = readRaw(input, spec);
  if (!raw) return opts.default;
  const text = raw.value.trim();
  if (!/^-?\d+$/.test(text)) {
    throw new UsageError(`${raw.origin}=${JSON.stringify(raw.value)} is not a whole number; use a number from ${opts.min} to ${opts.max}, e.g. ${raw.origin.startsWith('--') ? raw.origin + ' ' : spec.name + '='}${opts.example}`);
  }
  const n = Number(text);
  if (n < opts.min || n > opts.max) {
    throw new UsageError(`${raw.origin}=${text} is out of range; use a number from ${opts.min} to ${opts.max}, e.g. ${raw.origin.startsWith('--') ? raw.origin + ' ' : spec.name + '='}${opts.example}`);
  }
  return n;
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

export function readBool(input: SettingInput, spec: SettingSpec, dflt: boolean): boolean {
  const raw = readRaw(input, spec);
  if (!raw) return dflt;
  const text = raw.value.trim().toLowerCase();
  if (TRUE.has(text)) return true;
  if (FALSE.has(text)) return false;
  throw new UsageError(`${raw.origin}=${JSON.stringify(raw.value)} is not a boolean; use true or false, e.g. ${spec.name}=true`);
}

export function readEnum<T extends string>(input: SettingInput, spec: SettingSpec, allowed: readonly T[]): T | undefined {
  const raw = readRaw(input, spec);
  if (!raw) return undefined;
  const text = raw.value.trim();
  if ((allowed as readonly string[]).includes(text)) return text as T;
  throw new UsageError(`${raw.origin}=${JSON.stringify(raw.value)} is not one of ${allowed.join(', ')}; e.g. ${spec.name}=${allowed[0]}`);
}

/** A comma-separated list; blanks around names are trimmed, empty entries dropped. */
export function readList(input: SettingInput, spec: SettingSpec): string[] | undefined {
  const raw = readRaw(input, spec);
  if (!raw) return undefined;
  const items = raw.value.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (items.length === 0) {
    throw new UsageError(`${raw.origin}=${JSON.stringify(raw.value)} names no database; give a comma-separated list, e.g. ${spec.name}=app,billing`);
  }
  return items;
}
