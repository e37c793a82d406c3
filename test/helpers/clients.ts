// Where the provisioning script (scripts/provision.mjs) puts PostgreSQL client tools for tests.
// Layout: <cache>/clients/<major>/bin/{pg_dump,pg_dumpall,psql,pg_restore}
//   15: symlinks to Debian's /usr/lib/postgresql/15/bin
//   13: wrappers that run the tools of a bullseye rootfs in a chroot
//   17, 18: wrappers that run the tools of a trixie/sid rootfs in a chroot
// A missing client is an error, never a skip: run `npm run provision` (as root) first.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const DEV_CACHE = process.env.PG_BACKUPS_DEV_CACHE ?? '/var/cache/pg-backups-dev';

export type ClientMajor = 13 | 15 | 17 | 18;

export function clientBinDir(major: ClientMajor): string {
  const dir = join(DEV_CACHE, 'clients', String(major), 'bin');
  if (!existsSync(join(dir, 'pg_dump'))) {
    throw new Error(
      `PostgreSQL ${major} client tools are missing at ${dir}; run \`npm run provision\` as root first`,
    );
  }
  return dir;
}

/** The client major to use with a server major in tests: the same major, or the oldest newer one we provision. */
export function clientMajorFor(serverMajor: number): ClientMajor {
  if (serverMajor <= 13) return 13;
  if (serverMajor <= 15) return 15;
  if (serverMajor <= 17) return 17;
  return 18;
}
