// `pg-backups init`: the setup wizard. Only at a terminal (as the screen decides: stdin and stdout
// TTYs, TERM not dumb, CI unset); elsewhere exit 2 with one line saying what to do instead.
import { resolve } from 'node:path';
import { UsageError } from '../core/errors.js';
import { inquirerAsk } from '../core/init/ask.js';
import { runWizard } from '../core/init/wizard.js';
import { screenWanted } from '../ui/entry.js';
import { EXIT_CODES_HELP, GENERAL_SETTINGS_HELP, type Command } from './command.js';

export const NO_TERMINAL_MESSAGE =
  'pg-backups init asks questions and needs a terminal (stdin and stdout TTYs, CI unset): run it in one, e.g. ' +
  'docker run -it --rm -v "$PWD:$PWD" -w "$PWD" pg-backups-backup init, or write the settings by hand (README, "Settings")';

export const initCommand: Command = {
  name: 'init',
  summary: 'a setup wizard (at a terminal): tests the connection and destinations, writes an env file for the backup image',
  maxPositionals: 0,
  options: { output: { type: 'string', short: 'o' } },
  help: `Usage: pg-backups init [--output FILE]

A setup wizard for the backup image, at a terminal only. It asks for and tests:
  the connection     PGHOST, PGPORT, PGUSER, PGPASSWORD, PGSSLMODE: logs in and shows the server's
                     version and databases (a failed login shows why and asks again); BACKUP_DATABASES
  destinations       BACKUP_DIR; S3 (S3_BUCKET, S3_PREFIX, S3_REGION, S3_ENDPOINT, S3_FORCE_PATH_STYLE,
                     S3_ACCESS_KEY, S3_SECRET_KEY: a probe object is written under the prefix and
                     deleted); a remote host over SSH (RSYNC_HOST, RSYNC_PORT, RSYNC_USER, RSYNC_PATH,
                     RSYNC_SSH_KEY: the host key's SHA256 fingerprint is shown for you to accept, then
                     recorded in RSYNC_KNOWN_HOSTS; RSYNC_PATH is made if missing and tested writable)
  the schedule       TZ, BACKUP_SCHEDULE (the next three runs are shown)
  retention          LOCAL_RETENTION_DAYS, S3_RETENTION_DAYS, RSYNC_RETENTION_DAYS, and optionally
                     KEEP_DAILY, KEEP_WEEKLY, KEEP_MONTHLY
Every answer is checked by the same rules as the commands that read it. Nothing is written before the
last answer; then:
  FILE (default ./pg-backups.env)   the settings as NAME=value lines, read alike by docker run
                     --env-file, compose env_file: and a POSIX shell (set -a; . FILE; set +a). An
                     existing FILE is replaced only if you confirm.
  <FILE without .env>-secrets/      folder 0700: PGPASSWORD, S3_ACCESS_KEY, S3_SECRET_KEY one file each
                     (0600), named in FILE by NAME_FILE=<absolute path>; also any value a line cannot
                     carry the same way for docker and a shell (the cron expression's blanks, a $,
                     a quote...), as NAME_FILE too
and it prints a docker run line and a compose snippet for the image pg-backups-backup (no secret
in them). Without a terminal it stops with exit 2. Ctrl-C at a question stops with exit 1 and
writes nothing.

Options:
  -o, --output FILE  the env file to write (default ./pg-backups.env)

${GENERAL_SETTINGS_HELP}

${EXIT_CODES_HELP}
`,
  async run(ctx) {
    const output = ctx.flags.output;
    if (output !== undefined && (typeof output !== 'string' || output.trim() === '')) {
      throw new UsageError('--output is given an empty value; give the env file to write, e.g. --output ./pg-backups.env');
    }
    if (ctx.out.json) throw new UsageError('pg-backups init has no --json output: it asks questions at a terminal; leave --json out');
    if (!screenWanted(ctx.env)) throw new UsageError(NO_TERMINAL_MESSAGE);
    const envFile = resolve(typeof output === 'string' ? output : 'pg-backups.env');
    const ask = inquirerAsk(ctx.signal, (line) => ctx.out.print(line));
    await runWizard(ask, { envFile, signal: ctx.signal });
    return 0;
  },
};
