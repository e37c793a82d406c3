// Settings of the remote destinations: S3-compatible storage and a host over SSH/rsync, and the
// retry policy they share (RETRY_ATTEMPTS, RETRY_DELAY, as the S3 service of seed 002 names them).
import { UsageError } from '../errors.js';
import { readBool, readInt, readPath, readRaw, readString, type SettingInput } from './read.js';
import { PERIODS, type KeepRule } from '../rotation.js';

export interface RetryPolicy {
  /** Retries after the first try (0: try once). */
  attempts: number;
  /** The first wait; each later one doubles it. */
  delayMs: number;
}

export interface S3Settings {
  bucket: string;
  /** Without leading or trailing slashes; "" for the bucket's top. */
  prefix: string;
  region: string;
  endpoint?: string;
  forcePathStyle: boolean;
  /** Both or neither; without them the standard AWS credential chain applies. */
  accessKey?: string;
  secretKey?: string;
  retentionDays: number;
  /** S3_KEEP_DAILY/WEEKLY/MONTHLY, else KEEP_*. */
  keepRules: KeepRule[];
  retry: RetryPolicy;
}

export interface RemoteSettings {
  host: string;
  user: string;
  port: number;
  /** Absolute path on the remote host holding the backup folders. */
  path: string;
  /** Private key file; default: ~/.ssh/id_ed25519, id_ecdsa, id_rsa (the first that exists). */
  sshKey?: string;
  /** known_hosts file with the host's key; default ~/.ssh/known_hosts. */
  knownHosts: string;
  retentionDays: number;
  /** RSYNC_KEEP_DAILY/WEEKLY/MONTHLY, else KEEP_*. */
  keepRules: KeepRule[];
  retry: RetryPolicy;
}

export function readRetry(input: SettingInput): RetryPolicy {
  const attempts = readInt(input, { name: 'RETRY_ATTEMPTS', flag: 'retry-attempts' }, { min: 0, max: 20, default: 3, example: '3' });
  const raw = readRaw(input, { name: 'RETRY_DELAY', flag: 'retry-delay', what: 'a number of seconds from 0 to 3600', example: '5', ifUnset: 'for the default 5' });
  let seconds = 5;
  if (raw) {
    seconds = Number(raw.value.trim());
    if (raw.value.trim() === '' || !Number.isFinite(seconds) || seconds < 0 || seconds > 3600) {
      throw new UsageError(`${raw.origin}=${JSON.stringify(raw.value)} is not a number of seconds from 0 to 3600; e.g. RETRY_DELAY=5`);
    }
  }
  return { attempts, delayMs: Math.round(seconds * 1000) };
}

const KEEP_EXAMPLES: Record<KeepRule['period'], string> = { daily: '7', weekly: '4', monthly: '12' };

/**
 * The calendar rotation of one place: for each of KEEP_DAILY, KEEP_WEEKLY, KEEP_MONTHLY, the place's
 * own <PLACE>_KEEP_* when set (0 turns the rule off there), else KEEP_*, else off. Both are checked.
 */
export function readKeepRules(input: SettingInput, place: 'LOCAL' | 'S3' | 'RSYNC'): KeepRule[] {
  const rules: KeepRule[] = [];
  for (const period of PERIODS) {
    const [own, all] = [`${place}_KEEP_${period.toUpperCase()}`, `KEEP_${period.toUpperCase()}`].map((name) => ({
      name,
      count: readInt(input, { name, flag: name.toLowerCase().replace(/_/g, '-'), ifUnset: 'to leave the rule off' }, { min: 0, max: 10000, example: KEEP_EXAMPLES[period] }),
    }));
    const chosen = own!.count !== undefined ? own! : all!;
    if (chosen.count) rules.push({ period, count: chosen.count, setting: chosen.name });
  }
  return rules;
}

export function readS3(input: SettingInput): S3Settings | undefined {
  if (!readBool(input, { name: 'S3_ENABLED', flag: 's3-enabled' }, false)) return undefined;
  const bucket = readString(input, { name: 'S3_BUCKET', flag: 's3-bucket', what: 'a bucket name', example: 'my-backups' });
  if (!bucket) throw new UsageError('S3_BUCKET is not set, and S3_ENABLED=true needs it; e.g. S3_BUCKET=my-backups');
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$/.test(bucket)) {
    throw new UsageError(`S3_BUCKET=${JSON.stringify(bucket)} is not a bucket name (letters, digits, '.', '-', '_', no '/'); e.g. S3_BUCKET=my-backups`);
  }
  // Empty has a meaning here: the bucket's top, as when unset.
  const prefix = (readString(input, { name: 'S3_PREFIX', flag: 's3-prefix', emptyAllowed: true }) ?? '').replace(/^\/+|\/+$/g, '');
  if (prefix.split('/').some((part) => part === '..' || part === '.') || /\/\//.test(prefix)) {
    throw new UsageError(`S3_PREFIX=${JSON.stringify(prefix)} has an empty, '.' or '..' part; e.g. S3_PREFIX=postgres/prod`);
  }
  const endpoint = readString(input, {
    name: 'S3_ENDPOINT',
    flag: 's3-endpoint',
    what: 'the URL of an S3-compatible store',
    example: 'https://fra1.digitaloceanspaces.com',
    ifUnset: 'for AWS S3',
  });
  if (endpoint !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(endpoint);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      throw new UsageError(`S3_ENDPOINT=${JSON.stringify(endpoint)} is not an http(s) URL; e.g. S3_ENDPOINT=https://fra1.digitaloceanspaces.com`);
    }
    if (url.username || url.password) throw new UsageError('S3_ENDPOINT must not hold credentials; use S3_ACCESS_KEY and S3_SECRET_KEY (or S3_SECRET_KEY_FILE)');
  }
  const accessKey = readString(input, { name: 'S3_ACCESS_KEY', secret: true, what: 'an access key id', ifUnset: 'and S3_SECRET_KEY for the standard AWS credential chain' });
  const secretKey = readString(input, { name: 'S3_SECRET_KEY', secret: true, what: 'a secret access key', ifUnset: 'and S3_ACCESS_KEY for the standard AWS credential chain' });
  if ((accessKey === undefined) !== (secretKey === undefined)) {
    const missing = accessKey === undefined ? 'S3_ACCESS_KEY' : 'S3_SECRET_KEY';
    throw new UsageError(`${missing} is not set, but ${missing === 'S3_ACCESS_KEY' ? 'S3_SECRET_KEY' : 'S3_ACCESS_KEY'} is; set both, or neither to use the standard AWS credential chain`);
  }
  return {
    bucket,
    prefix,
    region: readString(input, { name: 'S3_REGION', flag: 's3-region', what: 'a region', example: 'eu-central-1', ifUnset: 'for the default us-east-1' }) ?? 'us-east-1',
    endpoint,
    forcePathStyle: readBool(input, { name: 'S3_FORCE_PATH_STYLE', flag: 's3-force-path-style' }, false),
    accessKey,
    secretKey,
    retentionDays: readInt(input, { name: 'S3_RETENTION_DAYS', flag: 's3-retention-days' }, { min: 0, max: 36500, default: 7, example: '7' }),
    keepRules: readKeepRules(input, 'S3'),
    retry: readRetry(input),
  };
}

export function readRemote(input: SettingInput): RemoteSettings | undefined {
  if (!readBool(input, { name: 'RSYNC_ENABLED', flag: 'rsync-enabled' }, false)) return undefined;
  const host = readString(input, { name: 'RSYNC_HOST', flag: 'rsync-host', what: 'a host name or address', example: 'backup.example.com' });
  if (!host) throw new UsageError('RSYNC_HOST is not set, and RSYNC_ENABLED=true needs it; e.g. RSYNC_HOST=backup.example.com');
  if (!/^[A-Za-z0-9.:_-]+$/.test(host) || host.startsWith('-')) {
    throw new UsageError(`RSYNC_HOST=${JSON.stringify(host)} is not a host name or address; e.g. RSYNC_HOST=backup.example.com`);
  }
  const user = readString(input, { name: 'RSYNC_USER', flag: 'rsync-user', what: 'a user name', example: 'backup', ifUnset: 'for the default root' }) ?? 'root';
  if (!/^[A-Za-z0-9._][A-Za-z0-9._-]*$/.test(user)) {
    throw new UsageError(`RSYNC_USER=${JSON.stringify(user)} is not a user name; e.g. RSYNC_USER=backup`);
  }
  const path = readString(input, { name: 'RSYNC_PATH', flag: 'rsync-path', what: 'an absolute path on the remote host', example: '/srv/backups/postgres' });
  if (!path) throw new UsageError('RSYNC_PATH is not set, and RSYNC_ENABLED=true needs it; e.g. RSYNC_PATH=/srv/backups/postgres');
  if (!path.startsWith('/') || /[\n\r\0]/.test(path) || path.split('/').includes('..')) {
    throw new UsageError(`RSYNC_PATH=${JSON.stringify(path)} must be an absolute path without '..'; e.g. RSYNC_PATH=/srv/backups/postgres`);
  }
  const home = process.env.HOME ?? '/root';
  const sshKey = readPath(input, {
    name: 'RSYNC_SSH_KEY',
    flag: 'rsync-ssh-key',
    what: 'a private key file',
    example: '/run/secrets/backup_ed25519',
    ifUnset: 'for ~/.ssh/id_ed25519, id_ecdsa or id_rsa',
  });
  const knownHosts = readPath(input, {
    name: 'RSYNC_KNOWN_HOSTS',
    flag: 'rsync-known-hosts',
    what: 'a known_hosts file',
    example: '/etc/ssh/ssh_known_hosts',
    ifUnset: 'for the default ~/.ssh/known_hosts',
  });
  return {
    host,
    user,
    port: readInt(input, { name: 'RSYNC_PORT', flag: 'rsync-port' }, { min: 1, max: 65535, default: 22, example: '22' }),
    path: path.replace(/\/+$/, '') || '/',
    sshKey,
    knownHosts: knownHosts ?? `${home}/.ssh/known_hosts`,
    retentionDays: readInt(input, { name: 'RSYNC_RETENTION_DAYS', flag: 'rsync-retention-days' }, { min: 0, max: 36500, default: 30, example: '30' }),
    keepRules: readKeepRules(input, 'RSYNC'),
    retry: readRetry(input),
  };
}
