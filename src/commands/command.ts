// What a command is: its options, its help, and run(), which parses and validates settings and
// hands the work to a service. Commands never do the work themselves.
import type { ParseArgsConfig } from 'node:util';
import type { Flags } from '../core/settings/read.js';
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

export const EXIT_CODES_HELP = `Exit codes:
  0  success
  1  the work failed (a dump, a write, the server, the network); nothing failed is reported as done
  2  bad usage or settings (the message names the setting and shows a good value)
  3  verification found a damaged or incomplete backup`;

export const CONNECTION_HELP = `Connection (libpq variables or DATABASE_URL; a flag wins over its variable):
  --host HOST            PGHOST
  --port PORT            PGPORT (default 5432)
  --username USER        PGUSER
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
