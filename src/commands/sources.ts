// The sources a command reads: --source, or every enabled source (local, S3, remote host).
import { UsageError } from '../core/errors.js';
import { readLocal } from '../core/settings/backup.js';
import { readRemote, readS3 } from '../core/settings/destinations.js';
import { readEnum, type SettingInput } from '../core/settings/read.js';
import { openDestinations } from '../sources/destinations.js';
import { LocalSource } from '../sources/local.js';
import type { BackupSource, Destination, SourceKind } from '../sources/source.js';

const KINDS = ['local', 's3', 'remote'] as const;

export interface SelectedSources {
  local: LocalSource;
  localRetentionDays: number;
  destinations: Destination[];
  /** What the command reads: the one named by --source, or all of them. */
  selected: BackupSource[];
}

export function selectSources(input: SettingInput): SelectedSources {
  const kind: SourceKind | undefined = readEnum(input, { name: 'SOURCE', flag: 'source' }, KINDS);
  const localSettings = readLocal(input);
  const local = new LocalSource(localSettings.backupDir);
  const destinations = openDestinations({ s3: readS3(input), remote: readRemote(input) });
  if (kind === 's3' && !destinations.some((d) => d.kind === 's3')) {
    throw new UsageError('--source s3 needs S3_ENABLED=true and S3_BUCKET (with S3_ENDPOINT and credentials as for backups)');
  }
  if (kind === 'remote' && !destinations.some((d) => d.kind === 'remote')) {
    throw new UsageError('--source remote needs RSYNC_ENABLED=true, RSYNC_HOST and RSYNC_PATH (with RSYNC_SSH_KEY and RSYNC_KNOWN_HOSTS as for backups)');
  }
  const all: BackupSource[] = [local, ...destinations];
  return { local, localRetentionDays: localSettings.retentionDays, destinations, selected: kind ? all.filter((s) => s.kind === kind) : all };
}

export const SOURCE_HELP = `  --source local|s3|remote  which source to read (default: every enabled source)
  --backup-dir DIR          BACKUP_DIR (default /backups)
  S3 and the remote host are enabled and reached with the settings of \`pg-backups backup --help\``;
