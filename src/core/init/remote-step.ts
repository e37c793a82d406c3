// The remote host over SSH: its settings, its host key shown as OpenSSH prints it for the person to
// accept, then a login with that key (from a scratch known_hosts file: nothing of the user's is
// written before the end) and a write test of RSYNC_PATH.
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { describeError, isAbort } from '../errors.js';
import { readRemote, type RemoteSettings } from '../settings/destinations.js';
import { hostKeyMessage, loadPrivateKey, DEFAULT_KEYS } from '../../sources/ssh-connection.js';
import { appendKnownHost, checkHostKey, knownHostLine, readKnownHosts } from '../../sources/ssh-known-hosts.js';
import { accepted, acceptedAsync, type Answers } from './answers.js';
import type { Ask } from './ask.js';
import { fetchHostKey, testRemote } from './probe-ssh.js';

/** A host key line the person accepted, to add to the known_hosts file when everything is written. */
export interface PendingHostKey {
  path: string;
  line: string;
}

export async function remoteStep(ask: Ask, answers: Answers, signal: AbortSignal, defaultKnownHosts: string): Promise<PendingHostKey | undefined> {
  if (!(await ask.yesNo('Also copy each backup to a remote host over SSH (rsync)?', answers.get('RSYNC_ENABLED') === 'true'))) {
    answers.clear('RSYNC_');
    return undefined;
  }
  answers.set('RSYNC_ENABLED', 'true');
  for (;;) {
    await remoteQuestions(ask, answers);
    const settings = readRemote(answers.input())!;
    try {
      const pending = await hostKeyAndTest(ask, settings, signal);
      if (pending) return pending;
    } catch (err) {
      if (isAbort(err, signal)) throw err;
      ask.say(`✖ ${describeError(err)}`);
    }
    if (!(await ask.yesNo('Change the remote host answers and try again? (No: no copies to a remote host)', true))) {
      answers.clear('RSYNC_');
      return undefined;
    }
  }

  async function remoteQuestions(ask: Ask, answers: Answers): Promise<void> {
    const check = (name: string) => (v: string) => accepted(() => readRemote(answers.input({ RSYNC_HOST: 'host', RSYNC_PATH: '/srv', [name]: v || undefined })));
    const absolute = (v: string) => (v === '' || isAbsolute(v) ? true : 'give an absolute path (the backup container reads it at that path)');
    answers.set('RSYNC_HOST', await ask.text('Remote host name or address (RSYNC_HOST)', { default: answers.get('RSYNC_HOST'), validate: check('RSYNC_HOST') }));
    answers.set('RSYNC_PORT', await ask.text('SSH port (RSYNC_PORT)', { default: answers.get('RSYNC_PORT') ?? '22', validate: check('RSYNC_PORT') }));
    answers.set('RSYNC_USER', await ask.text('User to log in as (RSYNC_USER)', { default: answers.get('RSYNC_USER') ?? 'root', validate: check('RSYNC_USER') }));
    answers.set('RSYNC_PATH', await ask.text('Folder on the remote host for the backups (RSYNC_PATH)', { default: answers.get('RSYNC_PATH'), validate: check('RSYNC_PATH') }));
    const home = process.env.HOME || homedir();
    const foundKey = DEFAULT_KEYS.map((n) => join(home, '.ssh', n)).find((p) => existsSync(p));
    answers.set(
      'RSYNC_SSH_KEY',
      await ask.text('Private key file to log in with, without a passphrase (RSYNC_SSH_KEY)', {
        default: answers.get('RSYNC_SSH_KEY') ?? foundKey,
        validate: async (v) => {
          if (v === '') return 'give the path of a private key file, e.g. /root/.ssh/id_ed25519';
          const abs = absolute(v);
          if (abs !== true) return abs;
          return acceptedAsync(() => loadPrivateKey(readRemote(answers.input({ RSYNC_SSH_KEY: v }))!));
        },
      }),
    );
    answers.set(
      'RSYNC_KNOWN_HOSTS',
      await ask.text("known_hosts file to record the host's key in (RSYNC_KNOWN_HOSTS)", {
        default: answers.get('RSYNC_KNOWN_HOSTS') ?? defaultKnownHosts,
        validate: (v) => {
          const abs = absolute(v);
          return abs !== true ? abs : check('RSYNC_KNOWN_HOSTS')(v);
        },
      }),
    );
  }
}

/** Shows the host key (asks to accept it when the file does not know it), then tests the login and RSYNC_PATH. */
async function hostKeyAndTest(ask: Ask, settings: RemoteSettings, signal: AbortSignal): Promise<PendingHostKey | undefined> {
  ask.say(`Connecting to ${settings.host} port ${settings.port} for its host key ...`);
  const offered = await fetchHostKey(settings, signal);
  const known = await readKnownHosts(settings.knownHosts);
  const verdict = checkHostKey(known, settings.host, settings.port, offered.key);
  const line = knownHostLine(settings.host, settings.port, offered.key);
  if (verdict.ok) {
    ask.say(`✔ ${settings.knownHosts} already holds this host's ${offered.type} key ${offered.fingerprint}`);
  } else if (verdict.reason !== 'unknown') {
    ask.say(`✖ ${hostKeyMessage(verdict, settings)}`);
    return undefined;
  } else {
    ask.say(`The host offers this ${offered.type} key:`);
    ask.say(`    ${offered.fingerprint}`);
    ask.say(`Compare it with the host's own (there: ssh-keygen -lf /etc/ssh/ssh_host_${offered.type.replace(/^ssh-|-sha2-.*$/g, '')}_key.pub).`);
    if (!(await ask.yesNo(`Is this the key of ${settings.host}? Accept it and record it in ${settings.knownHosts}?`, false))) {
      ask.say('Key not accepted; nothing was recorded.');
      return undefined;
    }
  }
  // The login test reads a scratch copy with the accepted line: the real file is written at the end.
  const scratch = await mkdtemp(join(tmpdir(), 'pg-backups-init-'));
  try {
    const file = join(scratch, 'known_hosts');
    if (known.exists) await copyFile(settings.knownHosts, file);
    await appendKnownHost(file, line);
    ask.say(`Logging in as ${settings.user} and writing a probe file in ${settings.path} ...`);
    const { rsync } = await testRemote({ ...settings, knownHosts: file }, signal);
    ask.say(`✔ logged in; ${settings.path} is writable`);
    if (!rsync) ask.say(`! rsync does not run on ${settings.host} for ${settings.user} (rsync --version failed): install it there before the first backup`);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return { path: settings.knownHosts, line };
}
