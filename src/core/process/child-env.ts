// The environment of child processes: the parent's, without any secret or connection setting of
// ours, plus exactly what the child needs (for libpq tools: PGHOST, PGPASSWORD, ...).

const WITHHELD = /^(DATABASE_URL|PG[A-Z_]*|S3_[A-Z_]*|AWS_[A-Z_]*|RSYNC_[A-Z_]*|RESTORE_[A-Z_]*|BACKUP_[A-Z_]*|[A-Z_]+_FILE)$/;

export function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !WITHHELD.test(key)) env[key] = value;
  }
  return { ...env, ...extra };
}
