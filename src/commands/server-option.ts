// --server NAME: which of several servers (BACKUP_<NAME>=postgresql://...) a command reads. Without
// it, commands that read every server (list, prune, status, healthcheck) take them all, and commands
// about one backup (verify, restore) need it when there are several.
import type { SettingInput } from '../core/settings/read.js';
import { readOneServerScope, readServerScopes, type ServerScope } from '../core/settings/servers.js';
import type { CommandContext } from './command.js';

export const SERVER_OPTION = { server: { type: 'string' } } as const;

export const SERVER_HELP = `  --server NAME             with several servers (BACKUP_<NAME>=postgresql://...): only this one, whose
                            backups are in <BACKUP_DIR>/<name>/ (and <S3_PREFIX>/<name>/, <RSYNC_PATH>/<name>/);
                            a name without its BACKUP_<NAME> still reads that folder`;

function only(ctx: Pick<CommandContext, 'flags'>): { only?: string } {
  return typeof ctx.flags.server === 'string' ? { only: ctx.flags.server } : {};
}

/** Every server the command reads (the one asked for with --server, or all of them). */
export function commandScopes(ctx: Pick<CommandContext, 'flags'>, input: SettingInput): ServerScope[] {
  return readServerScopes(input, { ...only(ctx), folderOnly: true });
}

/** The one server the command reads; several need --server. */
export function commandScope(ctx: Pick<CommandContext, 'flags'>, input: SettingInput): ServerScope {
  return readOneServerScope(input, { ...only(ctx), folderOnly: true });
}
