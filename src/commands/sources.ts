// What the commands that read sources share: the selection (built in src/sources/open.ts, where the
// terminal UI builds its sources too) and the help text of --source.
export { selectSources, type SelectedSources } from '../sources/open.js';

export const SOURCE_HELP = `  --source local|s3|remote  which source to read (default: every enabled source)
  --backup-dir DIR          BACKUP_DIR (default /backups; it must exist)
  S3 and the remote host are enabled and reached with the settings of \`pg-backups backup --help\`
  RESTORE_VERIFY_KEY        an Ed25519 public key (PEM, or the path of its file): every backup whose
                            manifest is not signed by it (unsigned, edited, another key, legacy) is damaged`;
