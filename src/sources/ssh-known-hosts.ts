// OpenSSH known_hosts files (RSYNC_KNOWN_HOSTS): parsing and the host key check of the ssh2
// connections. Same rules as OpenSSH's client: plain and hashed (|1|salt|hash) host names, comma
// lists, wildcards (* and ?), negations (!pattern), [host]:port for a port other than 22, @revoked
// keys. @cert-authority lines are skipped (host certificates are not used here).
import { createHash, createHmac } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface KnownKey {
  /** Key type of the line, e.g. ssh-ed25519. */
  type: string;
  /** The decoded public key blob. */
  blob: Buffer;
  revoked: boolean;
  line: number;
}

export interface KnownHostsFile {
  path: string;
  /** false when the file does not exist (every host is then unknown). */
  exists: boolean;
  lines: ParsedLine[];
}

interface ParsedLine {
  marker?: 'revoked' | 'cert-authority';
  hosts: string;
  type: string;
  blob: Buffer;
  line: number;
}

export type HostKeyVerdict =
  | { ok: true; type: string; fingerprint: string }
  | { ok: false; reason: 'unknown'; type: string; fingerprint: string }
  | { ok: false; reason: 'changed'; type: string; fingerprint: string; knownTypes: string[]; knownLines: number[] }
  | { ok: false; reason: 'revoked'; type: string; fingerprint: string; line: number };

/** Reads a known_hosts file; a missing file holds no host. Other read errors are thrown. */
export async function readKnownHosts(path: string): Promise<KnownHostsFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { path, exists: false, lines: [] };
    throw err;
  }
  return { path, exists: true, lines: parseKnownHosts(text) };
}

export function parseKnownHosts(text: string): ParsedLine[] {
  const out: ParsedLine[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    let marker: ParsedLine['marker'];
    if (fields[0]?.startsWith('@')) {
      const m = fields.shift();
      if (m === '@revoked') marker = 'revoked';
      else if (m === '@cert-authority') marker = 'cert-authority';
      else return; // unknown marker: OpenSSH ignores the line
    }
    const [hosts, type, b64] = fields;
    if (!hosts || !type || !b64) return;
    const blob = Buffer.from(b64, 'base64');
    if (blob.length < 8) return;
    const blobType = keyBlobType(blob);
    if (blobType === undefined || blobType !== type) return; // malformed line: OpenSSH skips it too
    out.push({ marker, hosts, type, blob, line: index + 1 });
  });
  return out;
}

/** The name OpenSSH looks a host up by: "host" on port 22, "[host]:port" otherwise (lower case). */
export function hostLookupName(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

/** The keys a known_hosts file holds for a host (revoked ones flagged; cert authorities left out). */
export function keysForHost(file: KnownHostsFile, host: string, port: number): KnownKey[] {
  const name = hostLookupName(host, port);
  const keys: KnownKey[] = [];
  for (const l of file.lines) {
    if (l.marker === 'cert-authority') continue;
    if (!hostFieldMatches(l.hosts, name)) continue;
    keys.push({ type: l.type, blob: l.blob, revoked: l.marker === 'revoked', line: l.line });
  }
  return keys;
}

/** Checks the key a server showed against the known_hosts file. */
export function checkHostKey(file: KnownHostsFile, host: string, port: number, key: Buffer): HostKeyVerdict {
  const type = keyBlobType(key) ?? 'unknown';
  const fingerprint = sshFingerprint(key);
  const keys = keysForHost(file, host, port);
  const revoked = keys.find((k) => k.revoked && k.blob.equals(key));
  if (revoked) return { ok: false, reason: 'revoked', type, fingerprint, line: revoked.line };
  const trusted = keys.filter((k) => !k.revoked);
  if (trusted.some((k) => k.blob.equals(key))) return { ok: true, type, fingerprint };
  if (trusted.length === 0) return { ok: false, reason: 'unknown', type, fingerprint };
  return { ok: false, reason: 'changed', type, fingerprint, knownTypes: [...new Set(trusted.map((k) => k.type))], knownLines: trusted.map((k) => k.line) };
}

/** The known_hosts line for a host's key, as ssh-keyscan writes it: "[host]:port ssh-ed25519 AAAA...". */
export function knownHostLine(host: string, port: number, key: Buffer): string {
  return `${hostLookupName(host, port)} ${keyBlobType(key) ?? 'unknown'} ${key.toString('base64')}`;
}

/** Adds a line to a known_hosts file (made, with its folder, when missing), on a line of its own. */
export async function appendKnownHost(path: string, line: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  let text = '';
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (text.split(/\r?\n/).includes(line)) return;
  await appendFile(path, `${text !== '' && !text.endsWith('\n') ? '\n' : ''}${line}\n`, { mode: 0o644 });
}

/** OpenSSH's fingerprint of a public key blob: SHA256:<base64 without padding>. */
export function sshFingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The ssh2 host key algorithms to offer, the host's known key types first (as OpenSSH orders them). */
export function hostKeyAlgorithmsFor(knownTypes: string[]): string[] {
  const all = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
  const preferred: string[] = [];
  for (const t of knownTypes) {
    const algs = t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : all.includes(t) ? [t] : [];
    for (const a of algs) if (!preferred.includes(a)) preferred.push(a);
  }
  return [...preferred, ...all.filter((a) => !preferred.includes(a))];
}

function keyBlobType(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || 4 + len > blob.length) return undefined;
  return blob.subarray(4, 4 + len).toString('latin1');
}

/** OpenSSH's match_hostname over a host field: hashed entry, or a comma list of (negatable) patterns. */
function hostFieldMatches(field: string, name: string): boolean {
  if (field.startsWith('|1|')) {
    const [, , salt64, hash64] = field.split('|');
    if (!salt64 || !hash64) return false;
    const digest = createHmac('sha1', Buffer.from(salt64, 'base64')).update(name).digest();
    return digest.equals(Buffer.from(hash64, 'base64'));
  }
  let matched = false;
  for (const raw of field.split(',')) {
    const negated = raw.startsWith('!');
    const pattern = (negated ? raw.slice(1) : raw).toLowerCase();
    if (pattern === '' || !wildcardMatch(pattern, name)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

function wildcardMatch(pattern: string, text: string): boolean {
  if (!/[*?]/.test(pattern)) return pattern === text;
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's');
  return re.test(text);
}
