// Short-lived ssh2 connections to the remote host (RSYNC_*): the host key is checked against
// RSYNC_KNOWN_HOSTS, the key is RSYNC_SSH_KEY, every failure is one line naming the destination, and
// network failures are marked transient (worth a retry) while host key and login failures are not.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import type { Algorithms, Client, SFTPWrapper } from 'ssh2';
import { AbortedError, ExternalError, UsageError, messageOf } from '../core/errors.js';
import type { RemoteSettings } from '../core/settings/destinations.js';
import { checkHostKey, hostKeyAlgorithmsFor, keysForHost, readKnownHosts, type HostKeyVerdict } from './ssh-known-hosts.js';

/** A failure of the remote destination. `transient`: a network failure worth another try. */
export class RemoteError extends ExternalError {
  constructor(
    message: string,
    readonly transient = false,
  ) {
    super(message);
  }
}

export function isTransientRemote(err: unknown): boolean {
  return err instanceof RemoteError && err.transient;
}

export const DEFAULT_KEYS = ['id_ed25519', 'id_ecdsa', 'id_rsa'];

/** RSYNC_SSH_KEY, or the first of ~/.ssh/id_ed25519, id_ecdsa, id_rsa that exists. */
export function resolveKeyPath(settings: RemoteSettings): string {
  if (settings.sshKey) return settings.sshKey;
  const home = process.env.HOME || homedir();
  for (const name of DEFAULT_KEYS) {
    const candidate = join(home, '.ssh', name);
    if (existsSync(candidate)) return candidate;
  }
  throw new UsageError(
    `RSYNC_SSH_KEY is not set and none of ${DEFAULT_KEYS.map((n) => `~/.ssh/${n}`).join(', ')} exists; e.g. RSYNC_SSH_KEY=/run/secrets/backup_ssh_key`,
  );
}

/** Reads RSYNC_SSH_KEY and checks that ssh2 can use it (no passphrase). Never prints key material. */
export async function loadPrivateKey(settings: RemoteSettings): Promise<{ path: string; key: Buffer }> {
  const path = resolveKeyPath(settings);
  let key: Buffer;
  try {
    key = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable by this user' : `cannot be read (${code ?? messageOf(err)})`;
    throw new UsageError(`RSYNC_SSH_KEY: ${path} ${why}; e.g. RSYNC_SSH_KEY=/run/secrets/backup_ssh_key`);
  }
  const parsed = ssh2.utils.parseKey(key);
  if (parsed instanceof Error) {
    if (/passphrase|encrypted/i.test(parsed.message)) {
      throw new UsageError(`RSYNC_SSH_KEY: ${path} is protected by a passphrase; backups run unattended and need a key without one (ssh-keygen -t ed25519 -N '' -f KEYFILE)`);
    }
    throw new UsageError(`RSYNC_SSH_KEY: ${path} is not a private key that can be used (OpenSSH or PEM ed25519, ECDSA or RSA)`);
  }
  const one = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!one || one.getPrivatePEM() === null) throw new UsageError(`RSYNC_SSH_KEY: ${path} holds no private key (is it the .pub file?)`);
  return { path, key };
}

export interface ConnectOptions {
  signal?: AbortSignal;
  /** How long the TCP connect + SSH handshake may take. */
  readyTimeoutMs?: number;
}

/** host:port as people write it ([v6]:port). */
export function hostPort(settings: RemoteSettings): string {
  return `${settings.host.includes(':') ? `[${settings.host}]` : settings.host}:${settings.port}`;
}

/**
 * Connects, checks the host key, logs in. Rejects with a RemoteError in one line prefixed by `where`.
 * The caller must end() the client (see withSsh).
 */
export async function connectSsh(settings: RemoteSettings, where: string, opts: ConnectOptions = {}): Promise<Client> {
  opts.signal?.throwIfAborted();
  let keyPath: string;
  let key: Buffer;
  try {
    ({ path: keyPath, key } = await loadPrivateKey(settings));
  } catch (err) {
    throw new RemoteError(`${where}: ${messageOf(err)}`);
  }
  let known;
  try {
    known = await readKnownHosts(settings.knownHosts);
  } catch (err) {
    throw new RemoteError(`${where}: cannot read RSYNC_KNOWN_HOSTS ${settings.knownHosts}: ${messageOf(err)}`);
  }
  const knownTypes = [...new Set(keysForHost(known, settings.host, settings.port).filter((k) => !k.revoked).map((k) => k.type))];
  const timeoutMs = opts.readyTimeoutMs ?? 20_000;

  return new Promise<Client>((resolve, reject) => {
    const client = new ssh2.Client();
    let verdict: HostKeyVerdict | undefined;
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      opts.signal?.removeEventListener('abort', onAbort);
      if (err) {
        client.removeAllListeners('ready');
        client.destroy();
        reject(err);
      } else {
        resolve(client);
      }
    };
    const onAbort = () => finish(new AbortedError(`${where}: connecting was stopped`));
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    client.on('ready', () => finish());
    client.on('error', (err: Error & { level?: string; code?: string }) => {
      if (settled) return; // errors after the handshake reach the operation that is running
      finish(describeConnectError(err, verdict, settings, keyPath, where, timeoutMs));
    });
    client.on('close', () => finish(new RemoteError(`${where}: ${hostPort(settings)} closed the connection during the SSH handshake`, true)));
    try {
      client.connect({
        host: settings.host,
        port: settings.port,
        username: settings.user,
        privateKey: key,
        readyTimeout: timeoutMs,
        keepaliveInterval: 15_000,
        keepaliveCountMax: 4,
        algorithms: { serverHostKey: hostKeyAlgorithmsFor(knownTypes) as Algorithms['serverHostKey'] },
        hostVerifier: (hostKey: Buffer) => {
          verdict = checkHostKey(known, settings.host, settings.port, hostKey);
          return verdict.ok;
        },
        authHandler: ['publickey'],
      });
    } catch (err) {
      finish(new RemoteError(`${where}: cannot connect to ${hostPort(settings)}: ${messageOf(err)}`));
    }
  });
}

function describeConnectError(
  err: Error & { level?: string; code?: string },
  verdict: HostKeyVerdict | undefined,
  settings: RemoteSettings,
  keyPath: string,
  where: string,
  timeoutMs: number,
): RemoteError {
  if (verdict && !verdict.ok) return new RemoteError(`${where}: ${hostKeyMessage(verdict, settings)}`);
  const hp = hostPort(settings);
  const account = `${settings.user}@${hp}`;
  if (err.level === 'client-authentication') {
    return new RemoteError(
      `${where}: RSYNC_SSH_KEY ${keyPath} was refused by ${account}; add its public key to ~${settings.user}/.ssh/authorized_keys there, or check RSYNC_USER and RSYNC_SSH_KEY`,
    );
  }
  if (err.level === 'client-timeout') {
    return new RemoteError(`${where}: cannot reach ${hp} (no SSH answer within ${Math.round(timeoutMs / 1000)} s); check RSYNC_HOST and RSYNC_PORT`, true);
  }
  if (err.level === 'client-dns') {
    const temporary = err.code === 'EAI_AGAIN';
    return new RemoteError(`${where}: cannot resolve ${settings.host} (${err.code ?? err.message}); check RSYNC_HOST`, temporary);
  }
  if (err.level === 'client-socket') {
    const reason: Record<string, string> = {
      ECONNREFUSED: 'connection refused',
      ETIMEDOUT: 'connection timed out',
      EHOSTUNREACH: 'no route to host',
      ENETUNREACH: 'network unreachable',
      ECONNRESET: 'connection reset',
      EPIPE: 'connection broken',
    };
    const why = (err.code && reason[err.code]) ?? messageOf(err);
    return new RemoteError(`${where}: cannot reach ${hp} (${why}); check RSYNC_HOST and RSYNC_PORT`, true);
  }
  // Handshake failures (no common algorithm, bad signature): not a network hiccup.
  return new RemoteError(`${where}: SSH connection to ${hp} failed: ${messageOf(err)}`, /reset|timed out|ECONN|EPIPE/i.test(err.message));
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The refusal of a host key, with what to do. */
export function hostKeyMessage(verdict: Exclude<HostKeyVerdict, { ok: true }>, settings: RemoteSettings): string {
  const file = settings.knownHosts;
  const hp = hostPort(settings);
  const keyscan = `ssh-keyscan ${settings.port === 22 ? '' : `-p ${settings.port} `}${shellQuote(settings.host)} >> ${shellQuote(file)}`;
  const lookup = settings.port === 22 ? settings.host : `[${settings.host}]:${settings.port}`;
  switch (verdict.reason) {
    case 'unknown':
      return (
        `host key of ${hp} not found in ${file} (RSYNC_KNOWN_HOSTS); the server offers the ${verdict.type} key ${verdict.fingerprint}. ` +
        `Check that fingerprint with the server's administrator (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub on the server) and add it with: ${keyscan}`
      );
    case 'changed':
      return (
        `HOST KEY OF ${hp} HAS CHANGED: the server offers the ${verdict.type} key ${verdict.fingerprint}, which is not the ${verdict.knownTypes.join('/')} key ` +
        `recorded in ${file} (RSYNC_KNOWN_HOSTS, line ${verdict.knownLines.join(', ')}). Someone may be intercepting the connection; nothing was sent. ` +
        `If the server was reinstalled, confirm the new fingerprint with its administrator, then: ssh-keygen -R ${shellQuote(lookup)} -f ${shellQuote(file)} && ${keyscan}`
      );
    case 'revoked':
      return `host key ${verdict.fingerprint} of ${hp} is marked @revoked in ${file} (RSYNC_KNOWN_HOSTS, line ${verdict.line}); refusing to connect`;
  }
}

/** Runs `work` on a fresh connection and always closes it, also on errors and aborts. */
export async function withSsh<T>(settings: RemoteSettings, where: string, opts: ConnectOptions, work: (client: Client) => Promise<T>): Promise<T> {
  const client = await connectSsh(settings, where, opts);
  let lateError: Error | undefined;
  client.on('error', (err) => (lateError = err));
  let onAbort: (() => void) | undefined;
  let onClose: (() => void) | undefined;
  try {
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(new AbortedError(`${where}: stopped`));
      onClose = () => reject(new RemoteError(`${where}: the connection to ${hostPort(settings)} was lost${lateError ? ` (${messageOf(lateError)})` : ''}`, true));
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      client.once('close', onClose);
    });
    aborted.catch(() => {});
    return await Promise.race([work(client), aborted]);
  } finally {
    if (onAbort) opts.signal?.removeEventListener('abort', onAbort);
    if (onClose) client.removeListener('close', onClose);
    client.end();
    // end() waits for the server's answer; never let a dead peer keep the process alive.
    setTimeout(() => client.destroy(), 2000).unref();
  }
}

/** Opens the SFTP subsystem of a connection. */
export function openSftp(client: Client, where: string): Promise<SFTPWrapper> {
  return new Promise((resolve, reject) => {
    client.sftp((err, sftp) => (err ? reject(new RemoteError(`${where}: cannot start SFTP: ${messageOf(err)}`, true)) : resolve(sftp)));
  });
}
