// What a restore would do to its target, judged from plain data: shared by the preflight plan
// (planRestore) and by the restore itself, so both refuse the same things with the same words.
import { UsageError } from '../errors.js';
import { templateTargetError } from '../settings/restore.js';

/** What a globals or cluster file creates (from its head: up to the first \connect). */
export interface FileCreates {
  roles: string[];
  tablespaces: string[];
  /** Databases a cluster file creates (not postgres and template1, which every server has). */
  databases: string[];
}

/** What the target server has. */
export interface ServerHas {
  roles: ReadonlySet<string>;
  tablespaces: ReadonlySet<string>;
  databases: ReadonlySet<string>;
  /** The role restoring: its CREATE ROLE is always left out (it exists by definition). */
  currentUser: string;
}

export interface GlobalsJudgement {
  /** Roles of the backup that exist already (the current user aside). */
  existingRoles: string[];
  /** What the restore creates. */
  creates: { roles: string[]; tablespaces: string[]; databases: string[] };
  /** Roles whose CREATE ROLE is left out (the current user, and with overwrite the existing ones). */
  skipCreate: string[];
  warnings: string[];
  refusal?: UsageError;
}

export function listNames(xs: string[]): string {
  return xs.slice(0, 10).map((x) => JSON.stringify(x)).join(', ') + (xs.length > 10 ? `, and ${xs.length - 10} more` : '');
}

/**
 * A cluster restore is for a fresh server: a database, role or tablespace it creates that exists
 * stops it. A globals restore stops at existing tablespaces, and at existing roles unless
 * overwrite (which gives them the backup's attributes, passwords and memberships).
 */
export function judgeGlobals(kind: 'globals' | 'cluster', file: FileCreates, has: ServerHas, overwrite: boolean, where: string): GlobalsJudgement {
  const roleClash = file.roles.filter((r) => has.roles.has(r) && r !== has.currentUser);
  const spaceClash = file.tablespaces.filter((s) => has.tablespaces.has(s));
  const databases = kind === 'cluster' ? file.databases : [];
  const dbClash = databases.filter((d) => has.databases.has(d));
  const result: GlobalsJudgement = {
    existingRoles: roleClash,
    creates: {
      roles: file.roles.filter((r) => !has.roles.has(r)),
      tablespaces: file.tablespaces.filter((s) => !has.tablespaces.has(s)),
      databases: databases.filter((d) => !has.databases.has(d)),
    },
    skipCreate: [has.currentUser, ...(overwrite ? roleClash : [])],
    warnings: [],
  };
  if (kind === 'cluster' && (dbClash.length > 0 || roleClash.length > 0 || spaceClash.length > 0)) {
    const what = [
      dbClash.length > 0 ? `database(s) ${listNames(dbClash)}` : '',
      roleClash.length > 0 ? `role(s) ${listNames(roleClash)}` : '',
      spaceClash.length > 0 ? `tablespace(s) ${listNames(spaceClash)}` : '',
    ].filter((s) => s !== '');
    result.refusal = new UsageError(
      `the server at ${where} is not fresh: it already has ${what.join(' and ')} that the cluster backup creates; nothing was restored; a cluster restore only goes onto a fresh server${overwrite ? ' (RESTORE_OVERWRITE does not apply to it)' : ''}; to replace databases on this server restore the globals (RESTORE_TYPE=globals) and then each database (RESTORE_TYPE=database with RESTORE_OVERWRITE=true), or restore the cluster onto a new server`,
    );
  } else if (kind === 'globals' && (spaceClash.length > 0 || (roleClash.length > 0 && !overwrite))) {
    const parts = [roleClash.length > 0 ? `role(s) ${listNames(roleClash)}` : '', spaceClash.length > 0 ? `tablespace(s) ${listNames(spaceClash)}` : ''].filter((s) => s !== '');
    result.refusal = new UsageError(
      `the server at ${where} already has ${parts.join(' and ')} that the globals backup creates; nothing was restored; ${spaceClash.length > 0 ? 'drop the tablespaces or restore onto a fresh server' : 'set RESTORE_OVERWRITE=true (or --overwrite) to give the existing roles the attributes, passwords and memberships of the backup'}`,
    );
  } else if (overwrite && roleClash.length > 0) {
    result.warnings.push(`existing role(s) ${listNames(roleClash)} get the attributes, passwords and memberships of the backup`);
  }
  return result;
}

/** A backup of an older major restores into a newer server, never into an older one. */
export function olderServerRefusal(dumpServerMajor: number | undefined, dumpServerVersion: string | undefined, server: { version: string; major: number }, where: string): UsageError | undefined {
  if (dumpServerMajor === undefined || server.major >= dumpServerMajor) return undefined;
  return new UsageError(
    `the backup was made from PostgreSQL ${dumpServerVersion ?? dumpServerMajor} and the server at ${where} runs PostgreSQL ${server.version}, an older major; a dump does not restore into an older major; restore onto a PostgreSQL ${dumpServerMajor} or newer server`,
  );
}

export const OVERWRITE_HINT = 'set RESTORE_OVERWRITE=true (or --overwrite) to replace it, or RESTORE_TARGET_DATABASE to restore it under another name';

/** Why a database restore cannot go to `target` whatever the server holds (a bad name, a template), or undefined. */
export function targetNameRefusal(target: string, setting: string): UsageError | undefined {
  if (target === '' || target.includes('\0') || Buffer.byteLength(target, 'utf8') > 63) {
    return new UsageError(`${setting}=${JSON.stringify(target)} is not a PostgreSQL database name (1 to 63 bytes, no NUL); e.g. ${setting}=app_restored`);
  }
  return templateTargetError(target, setting);
}
