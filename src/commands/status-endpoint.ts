// The HTTP status endpoint as `pg-backups schedule` runs it: its options and help, its settings read
// up front with the others (a bad one stops the service before anything starts), and the server
// started before the first run over every backed-up server's BACKUP_DIR.
import { startStatusServer, hostPort, type StatusServer } from '../core/service/status-server.js';
import type { StatusTarget } from '../core/service/status-snapshot.js';
import type { CronSchedule } from '../core/schedule/cron-schedule.js';
import { readDrillMaxAge, readMaxAge } from '../core/settings/schedule.js';
import type { SettingInput } from '../core/settings/read.js';
import { readStatusSettings } from '../core/settings/status.js';
import { LocalSource } from '../sources/local.js';
import type { CommandContext } from './command.js';

export const STATUS_OPTIONS = {
  'status-port': { type: 'string' },
  'status-host': { type: 'string' },
  'max-age': { type: 'string' },
} as const;

export const STATUS_HELP = `HTTP status (off unless STATUS_PORT is set):
  --status-port PORT  STATUS_PORT (1-65535, e.g. 9187): serve GET/HEAD /healthz (200 healthy, 503
                      unhealthy: the verdict of \`pg-backups healthcheck\`, as JSON), /status (JSON: run
                      history, the run going now, health, next run) and /metrics (Prometheus text).
                      A port already in use stops the service with exit 1.
  --status-host ADDR  STATUS_HOST (default 0.0.0.0, every IPv4 address, as a container needs; :: for
                      IPv6 too; 127.0.0.1 for this machine only)
                      STATUS_TOKEN or STATUS_TOKEN_FILE (no flag: a secret): when set, every path needs
                      the header \`Authorization: Bearer <token>\`, else 401. /healthz too: the image's
                      HEALTHCHECK runs \`pg-backups healthcheck\`, not HTTP.
  --max-age AGE       HEALTHCHECK_MAX_AGE for /healthz and /metrics, e.g. 25h (default: twice the
                      longest interval of BACKUP_SCHEDULE)
  DRILL_MAX_AGE       with it or DRILL_SCHEDULE, /healthz also judges drills as healthcheck does;
                      /status lists the recorded drills, /metrics has the last drill's figures`;

export interface StatusEndpoint {
  /** Starts the server over these servers' BACKUP_DIRs and logs where it listens. */
  start(targets: StatusTarget[]): Promise<StatusServer>;
}

/** Reads STATUS_* and HEALTHCHECK_MAX_AGE (throwing on a bad one); undefined when STATUS_PORT is unset. */
export function prepareStatusEndpoint(ctx: CommandContext, input: SettingInput, schedule: CronSchedule): StatusEndpoint | undefined {
  const settings = readStatusSettings(input);
  const maxAgeMs = readMaxAge(input);
  const drillMaxAgeMs = readDrillMaxAge(input);
  if (!settings) return undefined;
  return {
    start: async (targets) => {
      const server = await startStatusServer({
        ...settings,
        targets,
        openLocal: (dir) => new LocalSource(dir),
        schedule,
        ...(maxAgeMs !== undefined ? { maxAgeMs } : {}),
        ...(drillMaxAgeMs !== undefined ? { drillMaxAgeMs } : {}),
        onError: (m) => ctx.out.warn(m),
      });
      ctx.out.log(`status on http://${hostPort(settings.host, server.port)} (/healthz /status /metrics)`);
      return server;
    },
  };
}
