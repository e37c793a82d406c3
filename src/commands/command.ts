// What a command is: its options, its help, and run(), which parses and validates settings and
// hands the work to a service. Commands never do the work themselves.
import type { ParseArgsConfig } from 'node:util';
import type { Flags, SettingInput } from '../core/settings/read.js';
import type { Output } from './output.js';

export interface CommandContext {
  flags: Flags;
  positionals: string[];
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
  out: Output;
}

export interface Command {
  name: string;
  summary: string;
  /** The whole --help text. */
  help: string;
  options: NonNullable<ParseArgsConfig['options']>;
  maxPositionals: number;
  /** Returns the exit code; throws typed errors (see core/errors.ts). */
  run(ctx: CommandContext): Promise<number>;
}

/**
 * The input of the settings readers for a command: its flags and environment, and a notice that
 * logs what a reader took differently from how it was written (a relative path made absolute) as
 * a warning, once per message.
 */
export function settingInput(ctx: Pick<CommandContext, 'env' | 'flags' | 'out'>): SettingInput {
  const told = new Set<string>();
  return {
    env: ctx.env,
    flags: ctx.flags,
    notice: (message) => {
      if (told.has(message)) return;
      told.add(message);
      ctx.out.warn(message);
    },
  };
}

/** How empty values, relative paths and internal errors are handled; shared by every command's help. */
export const GENERAL_SETTINGS_HELP = `General:
  An empty setting (NAME="" or --flag "") is an error, except S3_PREFIX (the bucket's top), PGPASSWORD
  (no password: libpq then reads PGPASSFILE or ~/.pgpass) and BACKUP_EXCLUDE_DATABASES (none excluded);
  unset a setting to get its default. A relative path is taken from the working directory (and logged).
  LOG_FILE                 where the details of an internal error (a bug) are appended
                           (default $XDG_STATE_HOME/pg-backups/pg-backups.log or ~/.local/state/pg-backups/pg-backups.log)`;

export const EXIT_CODES_HELP = `Exit codes:
  0  success
  1  the work failed (a dump, a write, the server, the network); nothing failed is reported as done
  2  bad usage or settings (the message names the setting and shows a good value)
  3  verification found a damaged or incomplete backup`;

export const CONNECTION_HELP = `Connection (libpq variables or DATABASE_URL; a flag wins over its variable):
  --host HOST            PGHOST: a host name, or the folder of the server's Unix socket (a path);
                         default: the socket in /var/run/postgresql or /tmp, else localhost
  --port PORT            PGPORT (default 5432)
  --username USER        PGUSER (default: the OS user's name, as libpq)
                         PGPASSWORD or PGPASSWORD_FILE (no flag: a password never goes on the command line)
                         DATABASE_URL=postgres://user:password@host:5432/postgres?sslmode=require
                         PGDATABASE (the database to connect to first, default postgres), PGSSLMODE, ...`;

export const CONNECTION_OPTIONS = {
  host: { type: 'string' },
  port: { type: 'string' },
  username: { type: 'string' },
} as const;

/** Flags of the S3 and remote-host settings (secrets have none). */
export const DESTINATION_OPTIONS = {
  's3-enabled': { type: 'string' },
  's3-bucket': { type: 'string' },
  's3-prefix': { type: 'string' },
  's3-region': { type: 'string' },
  's3-endpoint': { type: 'string' },
  's3-force-path-style': { type: 'string' },
  's3-retention-days': { type: 'string' },
  'rsync-enabled': { type: 'string' },
  'rsync-host': { type: 'string' },
  'rsync-user': { type: 'string' },
  'rsync-port': { type: 'string' },
  'rsync-path': { type: 'string' },
  'rsync-ssh-key': { type: 'string' },
  'rsync-known-hosts': { type: 'string' },
  'rsync-retention-days': { type: 'string' },
  'retry-attempts': { type: 'string' },
  'retry-delay': { type: 'string' },
} as const;

export const SERVERS_HELP = `Several servers (instead of the connection above): one variable per server,
  BACKUP_<NAME>=postgresql://user:password@host:5432/postgres (or BACKUP_<NAME>_FILE), e.g.
  BACKUP_PROD=postgresql://backup@db1:5432/postgres BACKUP_BILLING=postgresql://backup@db2/postgres.
  Each server's backups go to <BACKUP_DIR>/<name>/ (and <S3_PREFIX>/<name>/, <RSYNC_PATH>/<name>/), name
  in lower case, with its own run history; PGUSER, PGPASSWORD, PGSSLMODE, ... fill what a URI leaves out.`;
