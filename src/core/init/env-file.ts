// The env file `pg-backups init` writes, in the one form that `docker run --env-file`, docker
// compose's `env_file:` and a POSIX shell (`set -a; . FILE; set +a`) all read the same way.
//
// docker's --env-file does no quote processing at all (NAME='a b' is the value 'a b' with its
// quotes), while the shell needs quotes for blanks and expands $, ` and \ and ~. So a value is
// written on its line only when it is made of characters none of them treats specially; any other
// value (a cron expression with its blanks, a path with a space, a $ ...) goes into a file of its own
// next to the secrets and is named by NAME_FILE=<absolute path>, which every pg-backups setting reads
// (see core/settings/read.ts). Settings that cannot be given by NAME_FILE must be inline-safe.
import { UsageError } from '../errors.js';

/** Characters that docker, compose and sh all take literally in an unquoted NAME=value line. */
const INLINE_SAFE = /^[A-Za-z0-9_.\/:@%+,=*-]*$/;

/** Settings read without NAME_FILE support (TZ also sets the process's clock; KEEP_* are read elsewhere). */
export const INLINE_ONLY = new Set(['TZ']);

export interface EnvEntry {
  name: string;
  value: string;
  /** Secrets always go into a file of their own (mode 0600), never into the env file. */
  secret?: boolean;
}

/** How an entry is written: on its line, or in a file named by NAME_FILE. */
export type EnvPlacement = { name: string; inline: string } | { name: string; file: string; value: string; secret: boolean };

/** Whether a value can stand unquoted on a NAME=value line read alike by docker, compose and sh. */
export function isInlineSafe(value: string): boolean {
  return INLINE_SAFE.test(value);
}

/** Where each entry goes; `fileFor(name)` is the absolute path of the file for a NAME_FILE entry. */
export function placeEntries(entries: EnvEntry[], fileFor: (name: string) => string): EnvPlacement[] {
  return entries.map((e) => {
    if (!/^[A-Z][A-Z0-9_]*$/.test(e.name)) throw new UsageError(`${JSON.stringify(e.name)} is not a setting name`);
    if (e.value.includes('\0')) throw new UsageError(`${e.name} holds a NUL character, which no environment variable can carry; give another value`);
    if (!e.secret && isInlineSafe(e.value)) return { name: e.name, inline: e.value };
    if (INLINE_ONLY.has(e.name)) {
      throw new UsageError(
        `${e.name}=${JSON.stringify(e.value)} cannot be written to an env file that docker and a shell read alike (it has a blank, quote, $, \`, \\, # or ~), and ${e.name} has no ${e.name}_FILE form; give a value without them`,
      );
    }
    const file = fileFor(e.name);
    if (!isInlineSafe(file)) {
      throw new UsageError(
        `the folder ${JSON.stringify(file.slice(0, file.lastIndexOf('/')))} has a character that docker and a shell read differently in an env file (a blank, quote, $, \`, \\, # or ~); write the env file to a folder without them (--output)`,
      );
    }
    return { name: e.name, file, value: e.value, secret: e.secret === true };
  });
}

/** The env file's text: a header, then NAME=value or NAME_FILE=path lines (and a comment showing each non-secret value in a file). */
export function renderEnvFile(placements: EnvPlacement[], header: string[]): string {
  const lines = header.map((l) => (l === '' ? '#' : `# ${l}`));
  for (const p of placements) {
    if ('inline' in p) {
      lines.push(`${p.name}=${p.inline}`);
    } else {
      if (!p.secret) lines.push(`# ${p.name} is ${JSON.stringify(p.value).replace(/[\r\n]/g, ' ')}: in ${p.file}, as the line below says`);
      lines.push(`${p.name}_FILE=${p.file}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
