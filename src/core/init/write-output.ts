// Writes what `pg-backups init` produced: the secrets folder (0700) with one file per secret or
// per value the env file cannot carry (0600 each), then the env file itself, last, so that an env
// file never names a file that is not there. Every file is written to a temporary name and renamed.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { exists } from '../backup/staging.js';
import { ExternalError, messageOf } from '../errors.js';
import { placeEntries, renderEnvFile, type EnvEntry, type EnvPlacement } from './env-file.js';

export interface OutputPaths {
  envFile: string;
  /** The folder of the secrets (and of values written by NAME_FILE). */
  secretsDir: string;
}

/** ./pg-backups.env -> ./pg-backups-secrets; /etc/x/prod.env -> /etc/x/prod-secrets. */
export function outputPaths(envFile: string): OutputPaths {
  const stem = basename(envFile).replace(/\.env$/, '');
  return { envFile, secretsDir: join(dirname(envFile), stem ? `${stem}-secrets` : 'secrets') };
}

/** Writes a file atomically with `mode`; refuses to replace an existing file unless `replace`. */
async function writeFileAtomic(path: string, text: string, mode: number, replace: boolean): Promise<void> {
  if (!replace && (await exists(path))) throw new ExternalError(`${path} already exists; it was left as it is`);
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', mode);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await chmod(temp, mode); // the umask may have taken bits away
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

export interface WriteResult extends OutputPaths {
  placements: EnvPlacement[];
}

/**
 * Plans where each entry goes, then writes the secrets folder and files and the env file.
 * `replace`: the user agreed to replace an existing env file (and the files in the secrets folder).
 */
export async function writeInitOutput(envFile: string, entries: EnvEntry[], header: string[], replace: boolean): Promise<WriteResult> {
  const paths = outputPaths(envFile);
  const placements = placeEntries(entries, (name) => join(paths.secretsDir, name));
  const text = renderEnvFile(placements, [...header, `Secrets (and values a line cannot carry) are in ${paths.secretsDir}, one file each.`]);
  try {
    await mkdir(dirname(envFile), { recursive: true });
    if (!replace && (await exists(envFile))) throw new ExternalError(`${envFile} already exists; it was left as it is`);
    if (placements.some((p) => 'file' in p)) {
      await mkdir(paths.secretsDir, { recursive: true, mode: 0o700 });
      await chmod(paths.secretsDir, 0o700);
      for (const p of placements) if ('file' in p) await writeFileAtomic(p.file, `${p.value}\n`, 0o600, true);
    }
    await writeFileAtomic(envFile, text, 0o644, replace);
  } catch (err) {
    if (err instanceof ExternalError) throw err;
    throw new ExternalError(`cannot write ${envFile} and its secrets: ${messageOf(err)}`);
  }
  return { ...paths, placements };
}
