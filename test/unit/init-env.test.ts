// The env file of `pg-backups init`: whatever the values hold (blanks, quotes, #, $, `, \, ~), the
// real docker client (`docker run --env-file`, parsed by the docker CLI and captured by a stand-in
// daemon on 127.0.0.1) and a real POSIX shell (`set -a; . FILE`) read the same variables from it, and
// the settings readers of pg-backups (NAME or NAME_FILE) get back exactly the values that were given.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { UsageError } from '../../src/core/errors.js';
import { isInlineSafe, placeEntries, renderEnvFile, type EnvEntry } from '../../src/core/init/env-file.js';
import { outputPaths, writeInitOutput } from '../../src/core/init/write-output.js';
import { readRaw } from '../../src/core/settings/read.js';
import { appendKnownHost, checkHostKey, knownHostLine, readKnownHosts } from '../../src/sources/ssh-known-hosts.js';
import { makeTempDir } from '../helpers/tmp.js';

const exec = promisify(execFile);

const VALUES: Record<string, string> = {
  V_PLAIN: 'db.example.com',
  V_PATH: '/srv/backups/postgres',
  V_URL: 'https://fra1.digitaloceanspaces.com:443/x',
  V_QUERY: 'https://x.example/?a=b',
  V_CRON: '0 3 * * *',
  V_SPACE: 'with space',
  V_LEADING: ' leading blank',
  V_TRAILING: 'trailing blank ',
  V_TAB: 'tab\there',
  V_SINGLE: "it's",
  V_DOUBLE: 'say "hi"',
  V_HASH: 'a#b',
  V_HASH_FIRST: '#first',
  V_HASH_SPACED: 'a #b',
  V_DOLLAR: '$HOME',
  V_BRACES: '${PATH:-x}',
  V_BACKTICK: 'back`id`tick',
  V_SUBST: '$(id)',
  V_BACKSLASH: 'back\\slash\\',
  V_TILDE: '~/x',
  V_TILDE_COLON: 'a:~/b',
  V_SEMI: 'a;b&c|d<e>f',
  V_STAR: '*',
  V_EQUALS: 'x=y=z',
  V_UNICODE: 'Zürich €',
  V_NEWLINE: 'two\nlines',
  V_EMPTY: '',
};
const SECRETS: Record<string, string> = { PGPASSWORD: `p@ss w'rd"$x#1\`\\`, S3_SECRET_KEY: 'abc/DEF+ghi=' };

/** A stand-in Docker daemon: answers the ping, records the container-create request, refuses it. */
async function fakeDockerDaemon(): Promise<{ server: Server; port: number; created: () => { Env: string[] } | undefined }> {
  let created: { Env: string[] } | undefined;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      if (req.url?.endsWith('/_ping')) {
        res.writeHead(200, { 'API-Version': '1.47', 'Content-Type': 'text/plain' });
        res.end('OK');
        return;
      }
      if (req.url?.includes('/containers/create')) created = JSON.parse(body) as { Env: string[] };
      res.writeHead(500, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ message: 'stand-in daemon: request recorded' }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, port: (server.address() as { port: number }).port, created: () => created };
}

function toMap(pairs: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    env[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return env;
}

describe('the env file of pg-backups init', () => {
  let dir: string;
  let docker: Awaited<ReturnType<typeof fakeDockerDaemon>>;
  beforeAll(async () => {
    dir = await makeTempDir('init-env-');
    docker = await fakeDockerDaemon();
  });
  afterAll(async () => {
    docker?.server.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('is read alike by docker --env-file, a POSIX shell and the settings readers, for values with blanks, quotes, #, $, `, \\ and ~', async () => {
    const envFile = join(dir, 'a', 'pg-backups.env');
    const entries: EnvEntry[] = [
      ...Object.entries(VALUES).map(([name, value]) => ({ name, value })),
      ...Object.entries(SECRETS).map(([name, value]) => ({ name, value, secret: true })),
    ];
    const result = await writeInitOutput(envFile, entries, ['test'], false);
    const text = await readFile(envFile, 'utf8');
    for (const secret of Object.values(SECRETS)) expect(text).not.toContain(secret);

    // docker run --env-file, parsed by the real docker CLI.
    const run = await exec('docker', ['run', '--rm', '--env-file', envFile, 'busybox'], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, DOCKER_HOST: `tcp://127.0.0.1:${docker.port}` },
    }).catch((err: { stderr?: string }) => err);
    expect(docker.created(), JSON.stringify(run)).toBeDefined();
    const fromDocker = toMap(docker.created()!.Env);

    // set -a; . FILE in /bin/sh, with nothing else in the environment.
    const { stdout } = await exec('/bin/sh', ['-c', 'set -a; . "$1"; set +a; exec env -0', 'sh', envFile], { env: { PATH: '/usr/bin:/bin' } });
    const fromShell = toMap(stdout.split('\0').filter(Boolean));
    for (const k of ['PATH', 'PWD', 'SHLVL', '_', 'OLDPWD']) delete fromShell[k];

    expect(fromShell).toEqual(fromDocker);
    expect(Object.keys(fromDocker).sort()).toEqual(result.placements.map((p) => ('inline' in p ? p.name : `${p.name}_FILE`)).sort());

    // The readers get back every value exactly, from NAME or NAME_FILE.
    for (const [name, value] of Object.entries({ ...VALUES, ...SECRETS })) {
      expect(readRaw({ env: fromDocker, flags: {} }, { name, emptyAllowed: true })?.value, name).toBe(value);
    }
    // Only the inline-safe values stand on their line; secrets never do.
    expect(fromDocker.V_PLAIN).toBe('db.example.com');
    expect(fromDocker.V_URL).toBe(VALUES.V_URL);
    expect(fromDocker.V_CRON_FILE).toBe(join(outputPaths(envFile).secretsDir, 'V_CRON'));
    expect(fromDocker.PGPASSWORD).toBeUndefined();
    expect(text).toContain(`# V_CRON is "0 3 * * *": in ${join(outputPaths(envFile).secretsDir, 'V_CRON')}`);
    expect((await stat(outputPaths(envFile).secretsDir)).mode & 0o777).toBe(0o700);
    expect((await stat(fromDocker.PGPASSWORD_FILE!)).mode & 0o777).toBe(0o600);
    expect((await stat(fromDocker.V_SPACE_FILE!)).mode & 0o777).toBe(0o600);
  });

  it('refuses what cannot be written alike: a TZ with a blank, a NUL, an output folder with a blank; an existing file unless told', async () => {
    const fileFor = (n: string) => `/etc/pgb/secrets/${n}`;
    expect(() => placeEntries([{ name: 'TZ', value: 'Europe/My Zone' }], fileFor)).toThrow(UsageError);
    expect(() => placeEntries([{ name: 'TZ', value: 'Europe/My Zone' }], fileFor)).toThrow(/TZ="Europe\/My Zone" cannot be written .* has no TZ_FILE form/);
    expect(() => placeEntries([{ name: 'X', value: 'a\0b' }], fileFor)).toThrow(/NUL/);
    expect(() => placeEntries([{ name: 'X', value: 'a b' }], (n) => `/etc/my conf/${n}`)).toThrow(/write the env file to a folder without them \(--output\)/);
    expect(placeEntries([{ name: 'X', value: 'a b' }, { name: 'Y', value: 'ok' }], fileFor)).toEqual([
      { name: 'X', file: '/etc/pgb/secrets/X', value: 'a b', secret: false },
      { name: 'Y', inline: 'ok' },
    ]);
    expect(renderEnvFile([{ name: 'Y', inline: 'ok' }], ['head', ''])).toBe('# head\n#\nY=ok\n');
    for (const v of ['a b', "'", '"', '$', '`', '\\', '~', '#', '\t', '!', ';']) expect(isInlineSafe(`x${v}`), v).toBe(false);

    const envFile = join(dir, 'b', 'x.env');
    await writeInitOutput(envFile, [{ name: 'A', value: '1' }], [], false);
    await expect(writeInitOutput(envFile, [{ name: 'A', value: '2' }], [], false)).rejects.toThrow(/already exists; it was left as it is/);
    expect(await readFile(envFile, 'utf8')).toContain('A=1');
    await writeInitOutput(envFile, [{ name: 'A', value: '2' }], [], true);
    expect(await readFile(envFile, 'utf8')).toContain('A=2');
    expect(outputPaths('/x/prod.env').secretsDir).toBe('/x/prod-secrets');
    expect(outputPaths('/x/settings').secretsDir).toBe('/x/settings-secrets');
  });
});

describe('the host key init records', () => {
  it('is a known_hosts line as ssh-keyscan writes it, added once, that the host key check then accepts', async () => {
    const dir = await makeTempDir('init-kh-');
    const key = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), Buffer.alloc(32, 7)]);
    expect(knownHostLine('Backup.Example.com', 22, key)).toBe(`backup.example.com ssh-ed25519 ${key.toString('base64')}`);
    const line = knownHostLine('10.0.0.5', 2222, key);
    expect(line).toBe(`[10.0.0.5]:2222 ssh-ed25519 ${key.toString('base64')}`);
    const file = join(dir, 'ssh', 'known_hosts');
    await appendKnownHost(file, line);
    await appendKnownHost(file, line);
    expect(await readFile(file, 'utf8')).toBe(`${line}\n`);
    const other = join(dir, 'other');
    await writeFile(other, '# no newline at the end');
    await appendKnownHost(other, line);
    expect(await readFile(other, 'utf8')).toBe(`# no newline at the end\n${line}\n`);
    expect(checkHostKey(await readKnownHosts(file), '10.0.0.5', 2222, key)).toMatchObject({ ok: true, type: 'ssh-ed25519' });
    expect(checkHostKey(await readKnownHosts(file), '10.0.0.5', 22, key)).toMatchObject({ ok: false, reason: 'unknown' });
    await rm(dir, { recursive: true, force: true });
  });
});
