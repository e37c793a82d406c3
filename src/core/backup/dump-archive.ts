// BACKUP_FORMAT=custom: one database as pg_dump's custom-format archive (pg_dump -Fc), streamed
// from pg_dump's stdout into its file (through age when encrypting). pg_dump compresses the archive
// itself (-Z COMPRESSION_LEVEL, zlib), so nothing is gzipped again. An archive written to a pipe has
// no data offsets in its table of contents; pg_restore reads it all the same, in parallel too
// (it finds the blocks by scanning a seekable file). The archive is read on its way for the row
// counts of its tables (archive-rows.ts).
import { startTool } from '../process/run-tool.js';
import { libpqEnv } from '../settings/connection.js';
import { archiveRowCounter } from './archive-rows.js';
import type { DumpContext, DumpCounts } from './dump-steps.js';
import type { FileSink } from './file-sink.js';

export async function dumpDatabaseArchive(ctx: DumpContext, database: string, sink: FileSink): Promise<DumpCounts> {
  const phase = ctx.progress?.phase('dump-database', `dump-database:${database}`, `dump of database ${JSON.stringify(database)}`);
  const proc = startTool({
    command: ctx.tools.path('pg_dump'),
    // --create makes no difference to an archive (the database's own entries are always in it);
    // pg_restore --create uses them.
    args: ['--format=custom', `--compress=${ctx.level}`, '--no-password'],
    env: libpqEnv(ctx.conn, database), // the name goes in PGDATABASE: a name with '=' is not a connection string
    label: 'pg_dump',
    signal: ctx.signal,
  });
  // The rows of each table, read from the archive as it goes by (archive-rows.ts).
  const rows = ctx.noRowCounts ? undefined : archiveRowCounter(`the archive of database ${JSON.stringify(database)}`);
  let written = 0;
  let counts: DumpCounts;
  try {
    for await (const chunk of proc.stdout) {
      await Promise.all([sink.write(chunk as Buffer), rows?.write(chunk as Buffer)]);
      written += (chunk as Buffer).length;
      phase?.update(written);
    }
    await proc.done;
    counts = await rows?.finish();
  } catch (err) {
    rows?.stop();
    proc.kill();
    await proc.done.catch(() => {});
    phase?.failed();
    throw err;
  }
  phase?.done();
  return counts;
}
