// Settings of the HTTP status endpoint of `pg-backups schedule`: STATUS_PORT (off when unset),
// STATUS_HOST (the address to bind) and STATUS_TOKEN (a bearer token every request must carry).
import { isIP } from 'node:net';
import { UsageError } from '../errors.js';
import { assignment, readInt, readRaw, readString, type SettingInput } from './read.js';

export const STATUS_PORT_EXAMPLE = '9187';
/** In a container the endpoint must be reachable from outside it. */
export const DEFAULT_STATUS_HOST = '0.0.0.0';

export interface StatusSettings {
  port: number;
  host: string;
  /** Required as `Authorization: Bearer <token>` on every request when set. */
  token?: string;
}

/** Undefined when STATUS_PORT is unset: no HTTP endpoint. */
export function readStatusSettings(input: SettingInput): StatusSettings | undefined {
  const port = readInt(input, { name: 'STATUS_PORT', flag: 'status-port', ifUnset: 'for no HTTP status endpoint' }, { min: 1, max: 65535, example: STATUS_PORT_EXAMPLE });
  const host = readStatusHost(input);
  const token = readStatusToken(input);
  if (port === undefined) return undefined;
  return { port, host, ...(token !== undefined ? { token } : {}) };
}

function readStatusHost(input: SettingInput): string {
  const raw = readRaw(input, { name: 'STATUS_HOST', flag: 'status-host', what: 'an address to listen on', example: '127.0.0.1', ifUnset: `for the default ${DEFAULT_STATUS_HOST} (every IPv4 address)` });
  if (!raw) return DEFAULT_STATUS_HOST;
  const host = raw.value.trim().replace(/^\[(.*)\]$/, '$1');
  // An IP address, or a host name of letters, digits, dots and dashes (localhost, status.internal).
  if (isIP(host) === 0 && !/^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i.test(host)) {
    throw new UsageError(`${assignment(raw.origin, raw.value)} is not an address to listen on; give an IP address or a host name of this machine, e.g. ${assignment(raw.origin, '0.0.0.0')} (every IPv4 address), ${assignment(raw.origin, '::')} or ${assignment(raw.origin, '127.0.0.1')}`);
  }
  return host;
}

/** A secret (STATUS_TOKEN_FILE works): never echoed, not even in the message about a bad one. */
function readStatusToken(input: SettingInput): string | undefined {
  const token = readString(input, { name: 'STATUS_TOKEN', secret: true, what: 'a token', ifUnset: 'to let anyone who reaches STATUS_PORT read the status' });
  if (token === undefined) return undefined;
  // It travels in an HTTP header after "Bearer ": visible ASCII only, no blanks.
  if (!/^[\x21-\x7e]+$/.test(token)) {
    const origin = input.env.STATUS_TOKEN_FILE !== undefined ? 'STATUS_TOKEN_FILE' : 'STATUS_TOKEN';
    throw new UsageError(`${origin}: the token holds a blank or a character that cannot go in an HTTP header; use letters, digits and -._~+/, e.g. STATUS_TOKEN=$(openssl rand -hex 32)`);
  }
  return token;
}
