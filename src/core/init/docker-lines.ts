// The `docker run` line and the compose snippet that run the backup image (pg-backups-backup) with
// the env file init wrote. They hold paths only, never a secret: the secrets folder is mounted
// read-only at the same absolute path, so the *_FILE settings of the env file name files that exist
// inside the container; the same goes for the known_hosts file and the SSH key.
export const BACKUP_IMAGE = 'pg-backups-backup';
export const BACKUP_VOLUME = 'pg-backups';

export interface RunPlan {
  envFile: string;
  backupDir: string;
  /** Present when the env file names files in it. */
  secretsDir?: string;
  knownHosts?: string;
  sshKey?: string;
}

interface Mount {
  source: string;
  target: string;
  readOnly: boolean;
}

function mounts(plan: RunPlan): Mount[] {
  const list: Mount[] = [
    plan.backupDir === '/backups' ? { source: BACKUP_VOLUME, target: '/backups', readOnly: false } : { source: plan.backupDir, target: plan.backupDir, readOnly: false },
  ];
  for (const path of [plan.secretsDir, plan.knownHosts, plan.sshKey]) {
    if (path !== undefined) list.push({ source: path, target: path, readOnly: true });
  }
  return list;
}

/** A word for a POSIX shell: as it is when safe, else in single quotes. */
export function shellWord(s: string): string {
  return /^[A-Za-z0-9_./:@%+,=-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function spec(m: Mount): string {
  return `${m.source}:${m.target}${m.readOnly ? ':ro' : ''}`;
}

export function dockerRunLine(plan: RunPlan): string {
  const parts = ['docker run -d --name pg-backups --restart unless-stopped', `--env-file ${shellWord(plan.envFile)}`, ...mounts(plan).map((m) => `-v ${shellWord(spec(m))}`), BACKUP_IMAGE];
  return parts.join(' \\\n    ');
}

export function composeSnippet(plan: RunPlan): string {
  const list = mounts(plan);
  const lines = [
    'services:',
    '  pg-backups:',
    `    image: ${BACKUP_IMAGE}`,
    '    restart: unless-stopped',
    '    env_file:',
    `      - ${JSON.stringify(plan.envFile)}`,
    '    volumes:',
    ...list.map((m) => `      - ${JSON.stringify(spec(m))}`),
  ];
  if (list.some((m) => m.source === BACKUP_VOLUME)) lines.push('volumes:', `  ${BACKUP_VOLUME}: {}`);
  return lines.join('\n');
}

/** A warning when the server's host would mean the container itself. */
export function localhostNote(pghost: string | undefined): string | undefined {
  if (pghost === undefined || /^(localhost|127\.\d+\.\d+\.\d+|::1)$/i.test(pghost) || pghost.startsWith('/')) {
    return `Note: PGHOST=${pghost ?? '(unset)'} inside the container is the container itself; give the server's host name, or add --network host (compose: network_mode: host) when PostgreSQL runs on the Docker host.`;
  }
  return undefined;
}
