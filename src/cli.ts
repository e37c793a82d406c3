// The pg-backups command line: parses argv, runs one command, and maps every outcome to an exit
// code in one place (core/errors.ts). JSON on stdout, logs on stderr.
import { parseArgs } from 'node:util';
import { backupCommand } from './commands/backup.js';
import { EXIT_CODES_HELP, GENERAL_SETTINGS_HELP, settingInput, type Command } from './commands/command.js';
import { listCommand } from './commands/list.js';
import { createOutput, type Output } from './commands/output.js';
import { pruneCommand } from './commands/prune.js';
import { healthcheckCommand } from './commands/healthcheck.js';
import { initCommand } from './commands/init.js';
import { scheduleCommand } from './commands/schedule.js';
import { statusCommand } from './commands/status.js';
import { restoreCommand } from './commands/restore.js';
import { verifyCommand } from './commands/verify.js';
import { drillCommand } from './commands/drill.js';
import { AbortedError, UsageError, describeError, exitCodeFor, isKnownError, writeInternalErrorLog } from './core/errors.js';
import { redact } from './core/secrets.js';
import { readPath } from './core/settings/read.js';
import { TOOL_VERSION } from './core/version.js';
import { screenCommand, screenWanted } from './ui/entry.js';

const COMMANDS: Command[] = [backupCommand, scheduleCommand, restoreCommand, listCommand, verifyCommand, drillCommand, pruneCommand, statusCommand, healthcheckCommand, initCommand];

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `pg-backups ${TOOL_VERSION}: PostgreSQL backups you can restore

Usage: pg-backups <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Without a command, at a terminal: the full-screen UI (backups on every source, restore, verify,
back up now); elsewhere this help, with exit code 2.
Run \`pg-backups <command> --help\` for a command's options and settings.
Settings come from the environment (NAME_FILE reads a secret from a file); a flag wins over its variable.

${GENERAL_SETTINGS_HELP}

${EXIT_CODES_HELP}
`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const interactive = name === undefined && screenWanted(process.env);
  if ((name === undefined && !interactive) || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(mainHelp());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`${TOOL_VERSION}\n`);
    return 0;
  }
  const command = interactive ? screenCommand : COMMANDS.find((c) => c.name === name);
  const wantsJson = rest.includes('--json');
  const out = createOutput({ json: wantsJson, quiet: rest.includes('--quiet') });
  if (!command) {
    out.error(`unknown command ${JSON.stringify(name)}; commands: ${COMMANDS.map((c) => c.name).join(', ')} (see pg-backups --help)`);
    return 2;
  }

  // A bug anywhere (also in a callback outside the command's promise): one line, the stack in the log file.
  let logFile: string | undefined;
  const crashFlags: string[] = [];
  const reportInternal = (err: unknown): string =>
    redact(describeError(err, writeInternalErrorLog(err, { command: command.name, flagNames: crashFlags, version: TOOL_VERSION, env: process.env, logFile })));
  const onCrash = (err: unknown) => {
    let message: string;
    try {
      message = reportInternal(err);
    } catch {
      message = 'internal error (a bug in pg-backups, please report it); the details could not be described';
    }
    out.error(message);
    out.printJson({ ok: false, error: message, exitCode: 1 });
    process.exit(1);
  };
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);

  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) return;
    out.warn(`${signal} received: stopping`);
    controller.abort(new AbortedError(`stopped by ${signal}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    let parsed;
    try {
      parsed = parseArgs({
        args: rest,
        options: { ...command.options, help: { type: 'boolean', short: 'h' }, json: { type: 'boolean' }, quiet: { type: 'boolean' } },
        allowPositionals: true,
        strict: true,
      });
    } catch (err) {
      throw new UsageError(`${(err as Error).message.split('\n')[0]}; see pg-backups ${command.name} --help`);
    }
    if (parsed.values.help) {
      process.stdout.write(command.help.includes('LOG_FILE') ? command.help : `${command.help}\n${GENERAL_SETTINGS_HELP}\n`);
      return 0;
    }
    crashFlags.push(...Object.keys(parsed.values).filter((k) => parsed.values[k as keyof typeof parsed.values] !== undefined));
    if (parsed.positionals.length > command.maxPositionals) {
      throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals[command.maxPositionals])}; see pg-backups ${command.name} --help`);
    }
    const flags = parsed.values as Record<string, string | boolean | undefined>;
    logFile = readLogFile(process.env, out);
    return await command.run({
      flags,
      positionals: parsed.positionals,
      env: process.env,
      signal: controller.signal,
      out,
    });
  } catch (err) {
    const message = isKnownError(err) ? redact(describeError(err)) : reportInternal(err);
    const code = exitCodeFor(err);
    out.error(message);
    out.printJson({ ok: false, error: message, exitCode: code });
    return code;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** LOG_FILE, checked like every setting (an empty one is an error) and made absolute. */
function readLogFile(env: NodeJS.ProcessEnv, out: Output): string | undefined {
  return readPath(settingInput({ env, flags: {}, out }), {
    name: 'LOG_FILE',
    what: 'a file to append the details of internal errors to',
    example: '/var/log/pg-backups.log',
    ifUnset: 'for the default ~/.local/state/pg-backups/pg-backups.log',
  });
}

// Pessimistic until main() settles: if the event loop ever ran dry with the work unfinished (a bug),
// the process must not exit 0.
process.exitCode = 1;
process.exitCode = await main(process.argv.slice(2));
