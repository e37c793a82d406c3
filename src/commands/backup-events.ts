// The log lines of a backup run's events on stderr, shared by `backup` and `schedule`.
import type { BackupEvent } from '../core/backup/backup-service.js';
import { formatBytes, type Output } from './output.js';

const lastFile = new Map<string, string>();

export function logBackupEvent(out: Output, e: BackupEvent): void {
  switch (e.type) {
    case 'server':
      out.log(`server PostgreSQL ${e.server.version}; using pg_dump ${e.tools.version} from ${e.tools.dir} (${e.tools.origin}); databases: ${e.databases.map((d) => JSON.stringify(d)).join(', ')}`);
      break;
    case 'step':
      if (e.step === 'globals') out.log('dumping globals (roles, tablespaces)');
      else out.log(`dumping database ${JSON.stringify(e.database)} (${e.index + 1}/${e.total})${e.ownFile ? '' : ' into the cluster file only'}`);
      break;
    case 'file':
      out.log(`wrote ${e.file.name} (${formatBytes(e.file.bytes)})`);
      break;
    case 'finished':
      out.log(`backup finished: ${e.path}`);
      break;
    case 'shipping':
      out.log(`uploading to ${e.destination}`);
      break;
    case 'pushing':
      if (lastFile.get(e.destination) !== e.file) out.log(`uploading ${e.file} (${formatBytes(e.totalBytes)}) to ${e.destination}`);
      lastFile.set(e.destination, e.file);
      break;
    case 'retry':
      out.warn(`${e.destination}: ${e.message}`);
      break;
    case 'shipped':
      if (e.ok) out.log(`${e.destination} holds the backup`);
      break;
    case 'pruned':
      out.log(`deleted old backup ${e.folder} from ${e.source} (${e.reason ?? 'retention'})`);
      break;
    case 'warning':
      out.warn(e.message);
      break;
  }
}
