// A private OpenSSH server on 127.0.0.1 for tests: random free port, generated ed25519 host key,
// a generated client key in authorized_keys, known_hosts files (plain and hashed) for
// [127.0.0.1]:PORT, and a temp folder standing for the remote disk. Logs in as root (this machine's
// tests run as root), key only.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, makeTempDir, portAccepts } from './tmp.js';

const exec = promisify(execFile);

export interface SshServer {
  host: '127.0.0.1';
  port: number;
  user: 'root';
  /** Client private key accepted by the server. */
  keyPath: string;
  /** known_hosts with the server's key for [127.0.0.1]:PORT. */
  knownHostsPath: string;
  /** The same entry, hashed (ssh-keygen -H). */
  hashedKnownHostsPath: string;
  /** The host's public key line ("ssh-ed25519 AAAA..."). */
  hostPublicKey: string;
  /** A folder on the "remote" disk for RSYNC_PATH. */
  remoteRoot: string;
  /** Scratch folder of the helper (keys, logs). */
  dir: string;
  /** The RSYNC_* settings for a push into `path`. */
  rsyncEnv(path: string): Record<string, string>;
  /** A new ed25519 key pair (not authorized) in the helper's folder: [private, public line]. */
  makeKey(name: string): Promise<[string, string]>;
  /** The sshd log so far (for failing tests). */
  log(): string;
  stop(): Promise<void>;
}

export async function makeKeyPair(dir: string, name: string): Promise<[string, string]> {
  const path = join(dir, name);
  await exec('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `pg-backups-test-${name}`, '-f', path]);
  return [path, (await readFile(`${path}.pub`, 'utf8')).trim()];
}

export async function startSshd(): Promise<SshServer> {
  const dir = await makeTempDir('pgb-sshd-');
  const remoteRoot = join(dir, 'remote');
  await mkdir(remoteRoot);
  await mkdir('/run/sshd', { recursive: true });
  const [hostKey, hostPub] = await makeKeyPair(dir, 'hostkey');
  const [keyPath, clientPub] = await makeKeyPair(dir, 'client');
  await writeFile(join(dir, 'authorized_keys'), `${clientPub}\n`, { mode: 0o600 });

  const port = await freePort();
  const hostPublicKey = hostPub.split(/\s+/).slice(0, 2).join(' ');
  const knownHostsPath = join(dir, 'known_hosts');
  await writeFile(knownHostsPath, `[127.0.0.1]:${port} ${hostPublicKey}\n`);
  const hashedKnownHostsPath = join(dir, 'known_hosts_hashed');
  await copyFile(knownHostsPath, hashedKnownHostsPath);
  await exec('ssh-keygen', ['-H', '-f', hashedKnownHostsPath]);
  await rm(`${hashedKnownHostsPath}.old`, { force: true });
  if ((await readFile(hashedKnownHostsPath, 'utf8')).includes('127.0.0.1')) throw new Error('ssh-keygen -H did not hash the known_hosts file');

  const args = [
    '-D', '-e', '-f', '/dev/null', '-p', String(port),
    '-o', 'ListenAddress=127.0.0.1',
    '-h', hostKey,
    '-o', `AuthorizedKeysFile=${join(dir, 'authorized_keys')}`,
    '-o', `PidFile=${join(dir, 'sshd.pid')}`,
    '-o', 'StrictModes=no',
    '-o', 'PasswordAuthentication=no',
    '-o', 'KbdInteractiveAuthentication=no',
    '-o', 'PermitRootLogin=prohibit-password',
    '-o', 'UsePAM=no',
    '-o', 'Subsystem=sftp internal-sftp',
    '-o', 'MaxStartups=50',
    '-o', 'MaxSessions=50',
  ];
  const child: ChildProcess = spawn('/usr/sbin/sshd', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    log += d;
    if (log.length > 200_000) log = log.slice(-100_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  // Ready when it accepts TCP connections.
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`sshd exited with code ${child.exitCode}:\n${log}`);
    if (await portAccepts(port)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`sshd did not listen on 127.0.0.1:${port} within 10 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  let stopped = false;
  return {
    host: '127.0.0.1',
    port,
    user: 'root',
    keyPath,
    knownHostsPath,
    hashedKnownHostsPath,
    hostPublicKey,
    remoteRoot,
    dir,
    rsyncEnv: (path: string) => ({
      RSYNC_ENABLED: 'true',
      RSYNC_HOST: '127.0.0.1',
      RSYNC_PORT: String(port),
      RSYNC_USER: 'root',
      RSYNC_PATH: path,
      RSYNC_SSH_KEY: keyPath,
      RSYNC_KNOWN_HOSTS: knownHostsPath,
    }),
    makeKey: (name: string) => makeKeyPair(dir, name),
    log: () => log,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

