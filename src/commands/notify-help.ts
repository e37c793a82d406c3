// The notification settings, as `backup --help` and `schedule --help` document them.
export const NOTIFY_OPTIONS = {
  'notify-on': { type: 'string' },
  'notify-timeout': { type: 'string' },
  'webhook-on-success': { type: 'string' },
} as const;

export const NOTIFY_HELP = `Notifications of each run (a POST per run and URL):
  NOTIFY_URL or NOTIFY_URL_FILE one or several URLs, comma or space separated. Slack (hooks.slack.com) and
                                Discord (discord.com/api/webhooks/...) URLs get their own message format,
                                any other URL the JSON webhook; a prefix forces one: slack+https://...,
                                discord+https://..., webhook+https://... A secret (webhook URLs hold
                                tokens): no flag, and logs name only scheme://host.
  --notify-on WHEN              NOTIFY_ON: failure (default: failed and stopped runs) or always (good runs too)
  NOTIFY_SECRET or NOTIFY_SECRET_FILE   signs each body: X-Pg-Backups-Signature: sha256=<hex HMAC-SHA256
                                of the body's bytes>, with X-Pg-Backups-Timestamp (Unix seconds)
  --notify-timeout SECONDS      NOTIFY_TIMEOUT (default 30): the bound on all notification work of a run,
                                retries included; network errors, timeouts (10 s a request), 429 and 5xx
                                are retried with backoff. A run stopped by SIGTERM: at most 3 s more.
  WEBHOOK_URL                   (seed 002) one more URL, as in NOTIFY_URL
  --webhook-on-success BOOL     WEBHOOK_ON_SUCCESS (seed 002): true is NOTIFY_ON=always
  A notification that cannot be sent is one warning in the log; it never changes the exit code.`;
