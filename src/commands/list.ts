import { listBackups } from '../core/catalog.js';
import { DESTINATION_OPTIONS, EXIT_CODES_HELP, type Command } from './command.js';
import { formatBytes, table } from './output.js';
import { SOURCE_HELP, selectSources } from './sources.js';

export const listCommand: Command = {
  name: 'list',
  summary: 'every backup on every enabled source, newest first, with where each copy lives',
  maxPositionals: 0,
  options: { source: { type: 'string' }, 'backup-dir': { type: 'string' }, ...DESTINATION_OPTIONS },
  help: `Usage: pg-backups list [options]

Lists backups on every enabled source (local, S3, remote host), merged by folder and newest first,
with where each copy lives. A source that cannot be read is reported (exit 1); the others still answer. STATUS is "finished" (has manifest.json), "legacy" (made by the bash
tool, no manifest: verified by gzip alone) or "damaged" (unreadable manifest). Runs that did not
finish are never listed.

Options:
${SOURCE_HELP}
  --json                    the list as JSON on stdout

${EXIT_CODES_HELP}
`,
  async run(ctx) {
    const { backups, failures } = await listBackups(selectSources({ env: ctx.env, flags: ctx.flags }).selected, ctx.signal);
    for (const f of failures) ctx.out.error(`cannot list ${f.source.kind}:${f.source.location}: ${f.error}`);
    ctx.out.printJson({
      ok: failures.length === 0,
      errors: failures.map((f) => ({ source: f.source.kind, location: f.source.location, error: f.error })),
      backups: backups.map((b) => ({
        folder: b.folder,
        time: b.time.toISOString(),
        status: b.status,
        serverVersion: b.manifest?.server.version ?? null,
        databases: b.databases,
        bytes: b.bytes,
        locations: b.copies.map((c) => ({ source: c.source.kind, location: c.source.location })),
        ...(b.problem ? { problem: b.problem } : {}),
      })),
    });
    if (backups.length === 0) {
      ctx.out.print('no backups found');
      return failures.length === 0 ? 0 : 1;
    }
    const rows = [['FOLDER', 'STATUS', 'SERVER', 'DATABASES', 'SIZE', 'WHERE']];
    for (const b of backups) {
      rows.push([
        b.folder,
        b.status,
        b.manifest?.server.version ?? '-',
        String(b.databases.length),
        formatBytes(b.bytes),
        b.copies.map((c) => `${c.source.kind}:${c.source.location}`).join(', '),
      ]);
    }
    for (const line of table(rows)) ctx.out.print(line);
    return failures.length === 0 ? 0 : 1;
  },
};
