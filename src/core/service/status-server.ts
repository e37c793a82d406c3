// The HTTP status endpoint of `pg-backups schedule` (STATUS_PORT): GET or HEAD of /healthz (200 or
// 503, the verdict of `pg-backups healthcheck`), /status (JSON: each server's run history, the run
// going now, health, the next run) and /metrics (Prometheus text). The history files are read afresh
// for each request (the service and `pg-backups backup` by hand both write them). With a token, every
// path needs `Authorization: Bearer <token>`. Every answer passes through redact().
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ExternalError, describeError, messageOf } from '../errors.js';
import { healthJson, runningJson } from '../history/history-report.js';
import type { CronSchedule } from '../schedule/cron-schedule.js';
import { redact } from '../secrets.js';
import type { BackupSource } from '../source.js';
import { METRICS_CONTENT_TYPE, renderMetrics } from './metrics.js';
import { statusMetrics } from './status-metrics.js';
import { readStatusSnapshot, type StatusSnapshot, type StatusTarget, type TargetStatus } from './status-snapshot.js';

export interface StatusServerOptions {
  /** 0: any free port (the one taken is in the result). */
  port: number;
  host: string;
  token?: string;
  /** One per backed-up server. */
  targets: StatusTarget[];
  /** The listing of a BACKUP_DIR (a LocalSource). */
  openLocal: (backupDir: string) => BackupSource;
  schedule?: CronSchedule;
  /** HEALTHCHECK_MAX_AGE; default twice the schedule's interval, as `healthcheck`. */
  maxAgeMs?: number;
  /** DRILL_MAX_AGE (or twice DRILL_SCHEDULE's interval): drills are judged too, as `healthcheck`. */
  drillMaxAgeMs?: number;
  now?: () => Date;
  /** Told about a request that failed inside the server (answered 500). */
  onError?: (message: string) => void;
}

export interface StatusServer {
  port: number;
  close(): Promise<void>;
}

export const STATUS_PATHS = ['/healthz', '/status', '/metrics'] as const;

interface Answer {
  status: number;
  type: string;
  body: string;
  headers?: Record<string, string>;
}

const JSON_TYPE = 'application/json; charset=utf-8';
const TEXT_TYPE = 'text/plain; charset=utf-8';
const REALM = 'Bearer realm="pg-backups"';

/** JSON with every string redacted before it is escaped (a secret holding a quote still matches). */
function jsonAnswer(status: number, value: unknown): Answer {
  return { status, type: JSON_TYPE, body: `${JSON.stringify(value, (_key, v: unknown) => (typeof v === 'string' ? redact(v) : v), 2)}\n` };
}

const textAnswer = (status: number, line: string, headers?: Record<string, string>): Answer => ({ status, type: TEXT_TYPE, body: `${line}\n`, ...(headers ? { headers } : {}) });

function serverJson(t: TargetStatus) {
  const base = { name: t.target.name ?? null, backupDir: t.target.backupDir, healthy: t.healthy, reason: t.reason };
  if (!t.report) return { ...base, error: t.error ?? null, health: null, running: null, runs: [], drills: [] };
  return { ...base, health: healthJson(t.report), running: runningJson(t.report), runs: t.report.runs, drills: t.report.drills };
}

const ROUTES: Record<(typeof STATUS_PATHS)[number], (s: StatusSnapshot) => Answer> = {
  '/healthz': (s) =>
    jsonAnswer(s.healthy ? 200 : 503, {
      healthy: s.healthy,
      reason: s.reason,
      servers: s.targets.map((t) => ({ name: t.target.name ?? null, healthy: t.healthy, reason: t.reason })),
    }),
  '/status': (s) =>
    jsonAnswer(200, {
      healthy: s.healthy,
      reason: s.reason,
      now: s.now.toISOString(),
      schedule: s.schedule ? { expression: s.schedule.expression, timezone: s.schedule.timezone ?? null } : null,
      next: s.next?.toISOString() ?? null,
      running: s.targets.some((t) => t.report?.running !== undefined),
      servers: s.targets.map(serverJson),
    }),
  '/metrics': (s) => ({ status: 200, type: METRICS_CONTENT_TYPE, body: renderMetrics(statusMetrics(s)) }),
};

const digest = (text: string) => createHash('sha256').update(text).digest();

/** Compares digests of equal length, so the time taken says nothing about the token. */
function authorization(header: string | undefined, tokenDigest: Buffer): 'ok' | 'missing' | 'wrong' {
  if (header === undefined || header.trim() === '') return 'missing';
  const match = /^Bearer +(\S+) *$/i.exec(header);
  const matches = timingSafeEqual(digest(match?.[1] ?? ''), tokenDigest);
  return match && matches ? 'ok' : 'wrong';
}

function route(req: IncomingMessage, tokenDigest: Buffer | undefined): Answer | ((s: StatusSnapshot) => Answer) {
  if (tokenDigest) {
    const auth = authorization(req.headers.authorization, tokenDigest);
    if (auth === 'missing') return textAnswer(401, 'unauthorized: send the header Authorization: Bearer <STATUS_TOKEN>', { 'WWW-Authenticate': REALM });
    if (auth === 'wrong') return textAnswer(401, 'unauthorized: the bearer token is not STATUS_TOKEN', { 'WWW-Authenticate': `${REALM}, error="invalid_token"` });
  }
  const path = (req.url ?? '/').split('?')[0]!;
  const handler = Object.hasOwn(ROUTES, path) ? ROUTES[path as (typeof STATUS_PATHS)[number]] : undefined;
  if (!handler) return textAnswer(404, `not found: ${path.slice(0, 200)}; the paths are ${STATUS_PATHS.join(', ')}`);
  if (req.method !== 'GET' && req.method !== 'HEAD') return textAnswer(405, `method ${req.method ?? ''} not allowed; use GET or HEAD`, { Allow: 'GET, HEAD' });
  return handler;
}

function send(req: IncomingMessage, res: ServerResponse, answer: Answer): void {
  const body = Buffer.from(redact(answer.body));
  res.writeHead(answer.status, {
    'Content-Type': answer.type,
    'Content-Length': String(body.length),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...answer.headers,
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

export async function startStatusServer(opts: StatusServerOptions): Promise<StatusServer> {
  const tokenDigest = opts.token !== undefined ? digest(opts.token) : undefined;
  const now = opts.now ?? (() => new Date());
  const server = createServer((req, res) => {
    void (async () => {
      let answer: Answer;
      try {
        const routed = route(req, tokenDigest);
        answer =
          typeof routed === 'function'
            ? routed(await readStatusSnapshot({ targets: opts.targets, openLocal: opts.openLocal, now: now(), ...(opts.schedule ? { schedule: opts.schedule } : {}), ...(opts.maxAgeMs !== undefined ? { maxAgeMs: opts.maxAgeMs } : {}), ...(opts.drillMaxAgeMs !== undefined ? { drillMaxAgeMs: opts.drillMaxAgeMs } : {}) }))
            : routed;
      } catch (err) {
        const message = describeError(err);
        opts.onError?.(`the status endpoint could not answer ${req.method ?? ''} ${(req.url ?? '').slice(0, 200)}: ${message}`);
        answer = textAnswer(500, `internal error: ${message}`);
      }
      if (!res.headersSent && !res.destroyed) send(req, res, answer);
    })();
  });
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  await listen(server, opts.port, opts.host);
  server.on('error', (err) => opts.onError?.(`the status endpoint: ${messageOf(err)}`));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** `0.0.0.0:9187`, `[::]:9187`. */
export function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

function listen(server: ReturnType<typeof createServer>, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      reject(listenError(err, port, host));
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ port, host, exclusive: true });
  });
}

function listenError(err: NodeJS.ErrnoException, port: number, host: string): ExternalError {
  const where = hostPort(host, port);
  const other = port === 9187 ? '9188' : '9187';
  switch (err.code) {
    case 'EADDRINUSE':
      return new ExternalError(`STATUS_PORT=${port}: ${where} is already in use by another program; choose a free port, e.g. STATUS_PORT=${other}, or stop the other program`);
    case 'EACCES':
      return new ExternalError(`STATUS_PORT=${port}: not allowed to listen on ${where} (ports below 1024 need privileges); use a port from 1024 up, e.g. STATUS_PORT=${other}`);
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new ExternalError(`STATUS_HOST=${host} is not an address of this machine (${err.code}); use one it has, e.g. STATUS_HOST=0.0.0.0 (every IPv4 address) or STATUS_HOST=127.0.0.1`);
    default:
      return new ExternalError(`cannot listen on ${where} (STATUS_HOST, STATUS_PORT): ${messageOf(err)}`);
  }
}
