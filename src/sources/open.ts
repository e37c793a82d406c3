// Every source, built from settings in one place: the CLI's commands and the terminal UI call these.
// The enabled remote destinations (S3, remote host), the local BACKUP_DIR, and the selection a
// command reads (--source, or every enabled one).
import { statSync } from 'node:fs';
import { UsageError } from '../core/errors.js';
import { readLocal } from '../core/settings/backup.js';
import { readRemote, readS3, type RemoteSettings, type S3Settings } from '../core/settings/destinations.js';
import { readEnum, readRaw, type SettingInput } from '../core/settings/read.js';
import type { KeepRule } from '../core/rotation.js';
import { readVerifyKeys } from '../core/settings/signing.js';
import type { BackupSource, Destination, SourceKind } from '../core/source.js';
import { LocalSource } from './local.js';
import { requireSignatures } from './signed.js';
import { RemoteDestination } from './remote.js';
import { S3Destination } from './s3.js';

export function openDestinations(settings: { s3?: S3Settings; remote?: RemoteSettings }): Destination[] {
  const destinations: Destination[] = [];
  if (settings.s3) destinations.push(new S3Destination(settings.s3));
  if (settings.remote) destinations.push(new RemoteDestination(settings.remote));
  return destinations;
}

/** Where a backup run writes: BACKUP_DIR and the enabled destinations. */
export function openBackupTargets(settings: { local: { backupDir: string }; s3?: S3Settings; remote?: RemoteSettings }): { local: LocalSource; destinations: Destination[] } {
  return { local: new LocalSource(settings.local.backupDir), destinations: openDestinations(settings) };
}

const KINDS = ['local', 's3', 'remote'] as const;

export interface SelectedSources {
  local: LocalSource;
  localRetentionDays: number;
  /** LOCAL_KEEP_* (else KEEP_*) rules of BACKUP_DIR. */
  localKeepRules: KeepRule[];
  destinations: Destination[];
  /** What the command reads: the one named by --source, or all of them. */
  selected: BackupSource[];
}

/**
 * The sources of a command. With `localMustExist` (list, verify, prune), a BACKUP_DIR that does not
 * exist is a setting to fix (UsageError naming it) when it was set, named by --source local, or is
 * the only source; the default /backups missing on a machine that reads S3 or a remote host (the
 * restore image) is left out with a notice instead.
 */
export function selectSources(input: SettingInput, opts: { localMustExist?: boolean } = {}): SelectedSources {
  const kind: SourceKind | undefined = readEnum(input, { name: 'SOURCE', flag: 'source' }, KINDS);
  const localSettings = readLocal(input);
  const local = new LocalSource(localSettings.backupDir);
  const destinations = openDestinations({ s3: readS3(input), remote: readRemote(input) });
  // RESTORE_VERIFY_KEY: a backup not signed by it lists as damaged (never restored, never "latest").
  const verifyKeys = readVerifyKeys(input);
  if (verifyKeys) for (const source of [local, ...destinations]) requireSignatures(source, verifyKeys);
  if (kind === 's3' && !destinations.some((d) => d.kind === 's3')) {
    throw new UsageError('--source s3 needs S3_ENABLED=true and S3_BUCKET (with S3_ENDPOINT and credentials as for backups)');
  }
  if (kind === 'remote' && !destinations.some((d) => d.kind === 'remote')) {
    throw new UsageError('--source remote needs RSYNC_ENABLED=true, RSYNC_HOST and RSYNC_PATH (with RSYNC_SSH_KEY and RSYNC_KNOWN_HOSTS as for backups)');
  }
  let all: BackupSource[] = [local, ...destinations];
  if (opts.localMustExist && (kind === undefined || kind === 'local')) {
    const problem = localDirProblem(local.dir);
    if (problem) {
      const explicit = readRaw(input, { name: 'BACKUP_DIR', flag: 'backup-dir' }) !== undefined && !input.defaulted?.has('BACKUP_DIR');
      if (explicit || kind === 'local' || destinations.length === 0) {
        throw new UsageError(`BACKUP_DIR ${local.dir} ${problem}; point BACKUP_DIR at the folder that holds the backups, e.g. BACKUP_DIR=/backups`);
      }
      input.notice?.(`BACKUP_DIR ${local.dir} (the default) ${problem}: reading only ${destinations.map((d) => `${d.kind}:${d.location}`).join(', ')}`);
      all = destinations;
    }
  }
  return { local, localRetentionDays: localSettings.retentionDays, localKeepRules: localSettings.keepRules, destinations, selected: kind ? all.filter((s) => s.kind === kind) : all };
}

function localDirProblem(dir: string): string | undefined {
  try {
    return statSync(dir).isDirectory() ? undefined : 'is not a folder';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `cannot be read (${(err as Error).message})`;
  }
}

