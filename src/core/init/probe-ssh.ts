// The remote host step: fetch the host key the server offers (for the person to accept), then, with
// that key in a known_hosts file, log in as the backups will (ssh-connection.ts) and check that
// RSYNC_PATH is a folder this user can write (made when missing) and that rsync runs there.
import { randomBytes } from 'node:crypto';
import ssh2 from 'ssh2';
import type { Client } from 'ssh2';
import { AbortedError, ExternalError, messageOf } from '../errors.js';
import type { RemoteSettings } from '../settings/destinations.js';
import { hostPort, openSftp, withSsh } from '../../sources/ssh-connection.js';
import { mkdirp, rjoin, sftpCode, sftpOps, SFTP_PERMISSION_DENIED } from '../../sources/ssh-sftp.js';
import { sshFingerprint } from '../../sources/ssh-known-hosts.js';

export interface OfferedKey {
  key: Buffer;
  type: string;
  fingerprint: string;
}

/** Connects only as far as the server's host key, which it returns; nothing is sent or logged in. */
export function fetchHostKey(settings: RemoteSettings, signal: AbortSignal, timeoutMs = 20_000): Promise<OfferedKey> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    let offered: OfferedKey | undefined;
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      client.removeAllListeners('ready');
      client.destroy();
      if (offered) resolve(offered);
      else reject(err ?? new ExternalError(`${hostPort(settings)} closed the connection before showing its host key`));
    };
    const onAbort = () => finish(new AbortedError('stopped while connecting to the remote host'));
    signal.addEventListener('abort', onAbort, { once: true });
    client.on('error', (err: Error & { level?: string; code?: string }) => finish(new ExternalError(reachError(settings, err, timeoutMs))));
    client.on('close', () => finish());
    client.on('ready', () => finish());
    try {
      client.connect({
        host: settings.host,
        port: settings.port,
        username: settings.user,
        readyTimeout: timeoutMs,
        hostVerifier: (key: Buffer) => {
          offered = { key, type: key.subarray(4, 4 + key.readUInt32BE(0)).toString('latin1'), fingerprint: sshFingerprint(key) };
          setImmediate(() => finish());
          return false;
        },
      });
    } catch (err) {
      finish(new ExternalError(`cannot connect to ${hostPort(settings)}: ${messageOf(err)}`));
    }
  });
}

function reachError(settings: RemoteSettings, err: Error & { level?: string; code?: string }, timeoutMs: number): string {
  const hp = hostPort(settings);
  if (err.level === 'client-timeout') return `cannot reach ${hp}: no SSH answer within ${Math.round(timeoutMs / 1000)} s; check the host and port`;
  if (err.level === 'client-dns') return `cannot resolve ${settings.host} (${err.code ?? err.message}); check the host name`;
  return `cannot reach ${hp} (${err.code ?? messageOf(err)}); check the host and port`;
}

/** Logs in (host key from settings.knownHosts), makes RSYNC_PATH when missing, writes and deletes a probe file, runs rsync --version. */
export async function testRemote(settings: RemoteSettings, signal: AbortSignal): Promise<{ rsync: boolean }> {
  const where = `remote ${settings.user}@${hostPort(settings)}`;
  return withSsh(settings, where, { signal }, async (client) => {
    const sftp = await openSftp(client, where);
    const ops = sftpOps(sftp);
    const probe = rjoin(settings.path, `.pg-backups-init-probe-${randomBytes(6).toString('hex')}`);
    let step = `make the folder ${settings.path}`;
    try {
      await mkdirp(ops, settings.path);
      step = `write a file in ${settings.path}`;
      await new Promise<void>((resolve, reject) => sftp.writeFile(probe, 'pg-backups init probe\n', (err) => (err ? reject(err) : resolve())));
      step = `delete the probe file ${probe}`;
      await ops.unlink(probe);
    } catch (err) {
      const why = sftpCode(err) === SFTP_PERMISSION_DENIED ? 'permission denied' : messageOf(err);
      throw new ExternalError(`${where}: cannot ${step} as ${settings.user} (${why}); choose a folder ${settings.user} can write, or change its owner`);
    }
    return { rsync: await runs(client, 'rsync --version') };
  });
}

function runs(client: Client, command: string): Promise<boolean> {
  return new Promise((resolve) => {
    client.exec(command, (err, stream) => {
      if (err) return resolve(false);
      stream.on('data', () => {});
      stream.stderr.on('data', () => {});
      stream.on('close', (code: number | null) => resolve(code === 0));
    });
  });
}
