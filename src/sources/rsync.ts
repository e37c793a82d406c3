// rsync over ssh into a folder on the remote host: the transport of the remote destination's push.
// Host keys are checked against RSYNC_KNOWN_HOSTS by the ssh that rsync runs; failures become one
// line, marked transient when the network is the cause.
import { AbortedError, UsageError, messageOf } from '../core/errors.js';
import { startTool } from '../core/process/run-tool.js';
import type { RemoteSettings } from '../core/settings/destinations.js';
import type { PushProgress } from '../core/source.js';
import { hostPort, loadPrivateKey, RemoteError } from './ssh-connection.js';

export async function rsyncInto(run: {
settings: RemoteSettings;
/** The destination, for messages. */
where: string;
localPath: string;
partialPath: string;
folder: string;
/** Every file that must arrive, with its size (progress counts these). */
expected: Map<string, number>;
signal: AbortSignal | undefined;
onProgress: ((p: PushProgress) => void) | undefined;
}): Promise<void> {
const { localPath, partialPath, folder, expected, signal, onProgress } = run;
  const { path: keyPath } = await loadPrivateKey(run.settings).catch((err: unknown) => {
    throw new RemoteError(`${run.where}: ${messageOf(err)}`);
  });
  const s = run.settings;
  const ssh = [
    'ssh', '-F', '/dev/null', '-p', String(s.port),
    // Not -i: OpenSSH 9.2 checks -i's path literally but then expands % tokens in it.
    '-o', `IdentityFile=${sshConfigValue(keyPath)}`,
    '-o', `UserKnownHostsFile=${sshConfigValue(s.knownHosts)}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'BatchMode=yes',
    '-o', 'IdentitiesOnly=yes',
    '-o', 'PasswordAuthentication=no',
    '-o', 'ConnectTimeout=20',
    '-o', 'ServerAliveInterval=15',
    '-o', 'ServerAliveCountMax=4',
  ].map(rsyncShellWord).join(' ');
  const host = s.host.includes(':') ? `[${s.host}]` : s.host;
  const label = `${run.where}: rsync of ${folder}`;
  const proc = startTool({
    command: 'rsync',
    args: [
      '--recursive', '--times', '--perms', '--delete', '-s', // -s: --protect-args (--secluded-args since 3.3): paths with spaces stay whole
      '--timeout=300', '--out-format=%n',
      '-e', ssh,
      '--', `${localPath.replace(/\/+$/, '')}/`, `${s.user}@${host}:${partialPath}/`,
    ],
    label,
    signal,
  });
  const total = [...expected.values()].reduce((a, b) => a + b, 0);
  let done = 0;
  let pending = '';
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const name of lines) {
      const bytes = expected.get(name.trim());
      if (bytes === undefined) continue;
      done += bytes;
      onProgress?.({ file: name.trim(), bytes: done, totalBytes: total });
    }
  });
  try {
    await proc.done;
  } catch (err) {
    if (err instanceof AbortedError || signal?.aborted) throw err;
    throw rsyncError(run.settings, run.where, err, proc.stderrText(), keyPath);
  }
}

/** The failure of rsync as one line, marked transient for network failures. */
function rsyncError(settings: RemoteSettings, where: string, err: unknown, stderr: string, keyPath: string): Error {
  const message = messageOf(err);
  const code = Number(/exit code (\d+)/.exec(message)?.[1] ?? NaN);
  const hp = hostPort(settings);
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed|No \S+ host key is known/i.test(stderr)) {
    return new RemoteError(`${where}: ssh refused the host key of ${hp} (not the one in ${settings.knownHosts}, RSYNC_KNOWN_HOSTS)`);
  }
  if (/Permission denied \(publickey|Too many authentication failures/i.test(stderr)) {
    return new RemoteError(`${where}: RSYNC_SSH_KEY ${keyPath} was refused by ${settings.user}@${hp}`);
  }
  if (/rsync: (command )?not found|rsync:.*No such file or directory.*\(2\)$|command-not-found/im.test(stderr) && code === 12) {
    return new RemoteError(`${where}: rsync is not installed on ${hp} (or not in ${settings.user}'s PATH there); install it on the remote host`);
  }
  if (/Connection refused|Connection timed out|Connection reset|Broken pipe|Connection closed|connection unexpectedly closed|No route to host|Network is unreachable|Temporary failure in name resolution|kex_exchange_identification|timeout/i.test(stderr)) {
    return new RemoteError(message, true);
  }
  // 10 socket I/O, 12 protocol stream, 30 I/O timeout, 35 daemon timeout, 255 ssh failed.
  return new RemoteError(message, [10, 12, 30, 35, 255].includes(code));
}

/** A word of rsync's -e command line: rsync splits on spaces and honours single and double quotes. */
function rsyncShellWord(word: string): string {
  if (/^[A-Za-z0-9_./:=@%+,-]+$/.test(word)) return word;
  if (!word.includes("'")) return `'${word}'`;
  if (!word.includes('"')) return `"${word}"`;
  throw new UsageError(`${word} holds both ' and "; it cannot be passed to ssh through rsync`);
}

/** A path as an ssh -o value: % escaped (ssh expands % tokens there), double-quoted when it holds spaces (UserKnownHostsFile takes a list). */
function sshConfigValue(path: string): string {
  const escaped = path.replace(/%/g, '%%');
  return /\s/.test(escaped) ? `"${escaped}"` : escaped;
}
