// `pg-backups init`: the questions in order, then (only then) the files: the env file, the secrets
// folder, the host key in known_hosts; then the lines that run the backup image with them.
import { dirname, isAbsolute, join } from 'node:path';
import { AbortedError } from '../errors.js';
import { readBackupSettings, readLocal } from '../settings/backup.js';
import { readConnection } from '../settings/connection.js';
import { readSchedule } from '../settings/schedule.js';
import { appendKnownHost } from '../../sources/ssh-known-hosts.js';
import { TOOL_VERSION } from '../version.js';
import { Answers, accepted } from './answers.js';
import type { Ask } from './ask.js';
import { connectionStep } from './connection-step.js';
import { composeSnippet, dockerRunLine, localhostNote, shellWord } from './docker-lines.js';
import { remoteStep } from './remote-step.js';
import { s3Step } from './s3-step.js';
import { retentionStep, scheduleStep } from './schedule-step.js';
import { exists } from '../backup/staging.js';
import { outputPaths, writeInitOutput } from './write-output.js';

export interface WizardOptions {
  /** Absolute path of the env file to write. */
  envFile: string;
  signal: AbortSignal;
}

export async function runWizard(ask: Ask, opts: WizardOptions): Promise<void> {
  const { envFile, signal } = opts;
  const { secretsDir } = outputPaths(envFile);
  ask.say(`pg-backups ${TOOL_VERSION} setup: answers are tested as you go; nothing is written before the last question (Ctrl-C stops).`);
  let replace = false;
  if (await exists(envFile)) {
    replace = await ask.yesNo(`${envFile} exists. Replace it (and the files in ${secretsDir})?`, false);
    if (!replace) throw new AbortedError(`${envFile} exists and was left as it is; nothing was written (choose another file with --output)`);
  }
  const answers = new Answers();
  await connectionStep(ask, answers, signal);

  ask.say('Destinations: every backup is written to a local folder first, then copied to the others.');
  answers.set(
    'BACKUP_DIR',
    await ask.text('Folder for the backups, as the backup container sees it (BACKUP_DIR)', {
      default: '/backups',
      validate: (v) => (isAbsolute(v) ? accepted(() => readLocal(answers.input({ BACKUP_DIR: v }))) : 'give an absolute path, e.g. /backups'),
    }),
  );
  await s3Step(ask, answers, signal);
  const hostKey = await remoteStep(ask, answers, signal, join(dirname(envFile), 'known_hosts'));
  await scheduleStep(ask, answers);
  await retentionStep(ask, answers);

  signal.throwIfAborted();
  // All answers together, through the readers of backup and schedule, as a last check.
  const all = answers.input();
  readConnection(all);
  readBackupSettings(all);
  readSchedule(all);
  const written = await writeInitOutput(
    envFile,
    answers.entries(),
    [`pg-backups settings, written by pg-backups init ${TOOL_VERSION} on ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}.`, 'Read alike by docker run --env-file, compose env_file: and a POSIX shell (set -a; . FILE; set +a).'],
    replace,
  );
  if (hostKey) await appendKnownHost(hostKey.path, hostKey.line);

  const usesFiles = written.placements.some((p) => 'file' in p);
  ask.say('');
  ask.say(`✔ wrote ${envFile}`);
  if (usesFiles) ask.say(`✔ wrote ${written.placements.filter((p) => 'file' in p).length} files in ${secretsDir} (folder 0700, files 0600), named by *_FILE in the env file`);
  if (hostKey) ask.say(`✔ recorded the host key in ${hostKey.path}`);
  const plan = {
    envFile,
    backupDir: answers.get('BACKUP_DIR') ?? '/backups',
    ...(usesFiles ? { secretsDir } : {}),
    ...(answers.get('RSYNC_ENABLED') ? { knownHosts: answers.get('RSYNC_KNOWN_HOSTS'), sshKey: answers.get('RSYNC_SSH_KEY') } : {}),
  };
  ask.say('');
  ask.say('Run the backup image with it:');
  ask.say('');
  ask.say(`  ${dockerRunLine(plan).replace(/\n/g, '\n  ')}`);
  ask.say('');
  ask.say('or in a compose file:');
  ask.say('');
  ask.say(composeSnippet(plan).replace(/^/gm, '  '));
  ask.say('');
  const note = localhostNote(answers.get('PGHOST'));
  if (note) ask.say(note);
  ask.say(`The files in ${secretsDir} belong to the user who ran init and only it can read them. The backup image runs as uid 10001: before starting it, give them (and the SSH key) to that user, e.g. sudo chown -R 10001:10001 ${shellWord(secretsDir)}${plan.sshKey ? ` ${shellWord(plan.sshKey)}` : ''}`);
  ask.say(`Check it now: set -a; . ${envFile}; set +a; pg-backups backup`);
}

