// Step 1: the connection. Asked until a login works; the server's version and databases are shown.
import { describeError, isAbort } from '../errors.js';
import type { ServerInfo } from '../postgres/server.js';
import { readBackupSettings } from '../settings/backup.js';
import { SSL_MODES, describeServer, readConnection, type SslMode } from '../settings/connection.js';
import { accepted, type Answers } from './answers.js';
import type { Ask } from './ask.js';
import { describeServerInfo, probeServer } from './probe-postgres.js';

export async function connectionStep(ask: Ask, answers: Answers, signal: AbortSignal): Promise<ServerInfo> {
  ask.say('PostgreSQL: the server to back up.');
  for (;;) {
    const conn = (name: string) => (v: string) => accepted(() => readConnection(answers.input({ [name]: v })));
    answers.set('PGHOST', await ask.text('Host name, address or socket folder (PGHOST)', { default: answers.get('PGHOST') ?? 'localhost', validate: conn('PGHOST') }));
    answers.set('PGPORT', await ask.text('Port (PGPORT)', { default: answers.get('PGPORT') ?? '5432', validate: conn('PGPORT') }));
    answers.set('PGUSER', await ask.text('Role to log in as (PGUSER)', { default: answers.get('PGUSER') ?? 'postgres', validate: conn('PGUSER') }));
    const password = await ask.secret('Password (PGPASSWORD; Enter for none)');
    answers.set('PGPASSWORD', password === '' ? undefined : password);
    const mode = await ask.choose<SslMode>('SSL (PGSSLMODE)', SSL_MODES, (answers.get('PGSSLMODE') as SslMode | undefined) ?? 'prefer');
    answers.set('PGSSLMODE', mode === 'prefer' ? undefined : mode);
    let settings;
    try {
      settings = readConnection(answers.input());
      ask.say(`Connecting to ${describeServer(settings)} ...`);
      const info = await probeServer(settings, signal);
      ask.say(`✔ ${describeServerInfo(info)}`);
      await databasesQuestion(ask, answers, info);
      return info;
    } catch (err) {
      if (isAbort(err, signal)) throw err;
      ask.say(`✖ ${describeError(err)}`);
      ask.say('Try again (Enter keeps an answer).');
    }
  }
}

async function databasesQuestion(ask: Ask, answers: Answers, info: ServerInfo): Promise<void> {
  const names = info.databases.map((d) => d.name);
  const list = await ask.text('Databases to back up, comma-separated (BACKUP_DATABASES; Enter for every one that allows connections)', {
    default: answers.get('BACKUP_DATABASES'),
    validate: (v) => {
      if (v === '') return true;
      const read = accepted(() => readBackupSettings(answers.input({ BACKUP_DATABASES: v })));
      if (read !== true) return read;
      const missing = v.split(',').map((s) => s.trim()).filter((s) => s !== '' && !names.includes(s));
      return missing.length === 0 ? true : `${missing.map((m) => JSON.stringify(m)).join(', ')} not on the server; it has ${names.join(', ')}`;
    },
  });
  answers.set('BACKUP_DATABASES', list === '' ? undefined : list.split(',').map((s) => s.trim()).filter(Boolean).join(','));
}
