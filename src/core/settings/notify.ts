// Settings of run notifications: NOTIFY_URL (one or several), NOTIFY_ON, NOTIFY_SECRET and
// NOTIFY_TIMEOUT, and seed 002's WEBHOOK_URL and WEBHOOK_ON_SUCCESS, as plain data.
//
// Slack and Discord webhook URLs carry their token in the path, so every URL is a secret: it is
// registered with redact() (whole, its path and query, and each long part), has no flag, reads
// from NOTIFY_URL_FILE, and messages name a URL only as scheme://host.
import { UsageError } from '../errors.js';
import { registerSecret } from '../secrets.js';
import { readBool, readEnum, readInt, readRaw, type SettingInput } from './read.js';

export type NotifyFormat = 'webhook' | 'slack' | 'discord';
export const NOTIFY_FORMATS: readonly NotifyFormat[] = ['webhook', 'slack', 'discord'];

export interface NotifyTarget {
  format: NotifyFormat;
  /** The URL requests go to (a format prefix and any user:password removed). A secret. */
  url: string;
  /** scheme://host[:port], the only part of the URL that may be logged. */
  shown: string;
  /** An Authorization header made from user:password in the URL (fetch refuses URLs that hold them). */
  authorization?: string;
}

export interface NotifySettings {
  targets: NotifyTarget[];
  /** failure: failed and stopped runs; always: good runs too. */
  on: 'failure' | 'always';
  /** NOTIFY_SECRET: signs each body (HMAC-SHA256). */
  secret?: string;
  /** NOTIFY_TIMEOUT in milliseconds: the bound on all the notification work of one run, retries included. */
  timeoutMs: number;
}

const URL_EXAMPLE = 'https://hooks.example.com/pg-backups';
const ORDINALS = ['1st', '2nd', '3rd'];

export function readNotifySettings(input: SettingInput): NotifySettings {
  const targets: NotifyTarget[] = [];
  const notifyUrl = readRaw(input, { name: 'NOTIFY_URL', secret: true, what: 'one or several webhook URLs', example: URL_EXAMPLE, ifUnset: 'to send no notification' });
  if (notifyUrl) {
    const entries = notifyUrl.value.split(/[\s,]+/).filter((s) => s.length > 0);
    if (entries.length === 0) throw new UsageError(`${notifyUrl.origin} holds no URL; give one or several (comma or space separated), e.g. NOTIFY_URL=${URL_EXAMPLE}`);
    entries.forEach((entry, i) => targets.push(parseTarget(entry, entries.length > 1 ? `${notifyUrl.origin} (its ${ordinal(i)} URL)` : notifyUrl.origin)));
  }
  const webhookUrl = readRaw(input, { name: 'WEBHOOK_URL', secret: true, what: 'a webhook URL', example: URL_EXAMPLE, ifUnset: 'to send no notification' });
  if (webhookUrl) targets.push(parseTarget(webhookUrl.value.trim(), webhookUrl.origin));
  const unique = targets.filter((t, i) => targets.findIndex((o) => o.url === t.url && o.format === t.format) === i);

  const on = readOn(input);
  const secret = readRaw(input, { name: 'NOTIFY_SECRET', secret: true, what: 'a shared secret for the signature', ifUnset: 'to send unsigned notifications' })?.value;
  const timeoutSeconds = readInt(input, { name: 'NOTIFY_TIMEOUT', flag: 'notify-timeout' }, { min: 1, max: 3600, default: 30, example: '30' });
  if (unique.length === 0) {
    const idle = ['NOTIFY_ON', 'NOTIFY_SECRET', 'NOTIFY_TIMEOUT', 'WEBHOOK_ON_SUCCESS'].filter((n) => input.env[n] !== undefined || input.env[`${n}_FILE`] !== undefined);
    if (idle.length > 0) input.notice?.(`${idle.join(', ')} ${idle.length === 1 ? 'is' : 'are'} set but neither NOTIFY_URL nor WEBHOOK_URL: no notification is sent`);
  }
  return { targets: unique, on, ...(secret !== undefined ? { secret } : {}), timeoutMs: timeoutSeconds * 1000 };
}

/** NOTIFY_ON, or seed 002's WEBHOOK_ON_SUCCESS=true (always); both set and disagreeing is an error. */
function readOn(input: SettingInput): NotifySettings['on'] {
  const on = readEnum(input, { name: 'NOTIFY_ON', flag: 'notify-on', example: 'always', ifUnset: 'for the default failure' }, ['failure', 'always'] as const);
  const legacySet = readRaw(input, { name: 'WEBHOOK_ON_SUCCESS', flag: 'webhook-on-success' }) !== undefined;
  const legacy = readBool(input, { name: 'WEBHOOK_ON_SUCCESS', flag: 'webhook-on-success' }, false);
  if (on !== undefined && legacySet && legacy !== (on === 'always')) {
    throw new UsageError(`NOTIFY_ON=${on} and WEBHOOK_ON_SUCCESS=${legacy} disagree; set only NOTIFY_ON (failure or always), e.g. NOTIFY_ON=always`);
  }
  return on ?? (legacy ? 'always' : 'failure');
}

/**
 * One URL, with an optional format prefix (slack+https://...). Messages never show the URL: only
 * where it is in the setting and, once it parses, scheme://host.
 */
export function parseTarget(entry: string, origin: string): NotifyTarget {
  const prefixed = /^([a-z][a-z0-9-]*)\+(.*)$/i.exec(entry);
  let format: NotifyFormat | undefined;
  let text = entry;
  if (prefixed) {
    const name = prefixed[1]!.toLowerCase();
    if (!(NOTIFY_FORMATS as readonly string[]).includes(name)) {
      throw new UsageError(`${origin} starts with the unknown format "${name}+"; use ${NOTIFY_FORMATS.map((f) => `${f}+`).join(', ')} or none, e.g. NOTIFY_URL=slack+https://hooks.slack.com/services/...`);
    }
    format = name as NotifyFormat;
    text = prefixed[2]!;
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`${origin} is not a URL; give an http or https URL, e.g. NOTIFY_URL=${URL_EXAMPLE}`);
  }
  const shown = `${url.protocol}//${url.host}`;
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new UsageError(`${origin} (${url.protocol}//...) is not an http or https URL; e.g. NOTIFY_URL=${URL_EXAMPLE}`);
  }
  if (url.hostname === '') throw new UsageError(`${origin} has no host; e.g. NOTIFY_URL=${URL_EXAMPLE}`);
  let authorization: string | undefined;
  if (url.username !== '' || url.password !== '') {
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    registerSecret(password);
    authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    registerSecret(authorization);
    url.username = '';
    url.password = '';
  }
  url.hash = '';
  const target: NotifyTarget = { format: format ?? formatOfHost(url), url: url.href, shown, ...(authorization ? { authorization } : {}) };
  registerUrlSecrets(entry, url);
  return target;
}

/** Slack's and Discord's own webhook hosts get their message format; anything else gets the JSON webhook. */
export function formatOfHost(url: URL): NotifyFormat {
  const host = url.hostname.toLowerCase();
  if (host === 'hooks.slack.com' || host === 'hooks.slack-gov.com') return 'slack';
  const discord = /(^|\.)(discord|discordapp)\.com$/.test(host);
  if (discord && /^\/api(\/v\d+)?\/webhooks\//.test(url.pathname)) return 'discord';
  return 'webhook';
}

/** The whole URL, its path and query, and each part long enough to be a token. */
function registerUrlSecrets(entry: string, url: URL): void {
  registerSecret(entry);
  registerSecret(url.href);
  const rest = `${url.pathname}${url.search}`;
  if (rest.length >= 8) registerSecret(rest);
  if (url.search.length >= 8) registerSecret(url.search.slice(1));
  const parts = [...url.pathname.split('/'), ...[...url.searchParams.values()]];
  for (const part of parts) if (part.length >= 16) registerSecret(part);
}

function ordinal(i: number): string {
  return ORDINALS[i] ?? `${i + 1}th`;
}
