// Running commands in a built image on a machine where `podman run` cannot start containers (crun
// cannot set rlimits/cgroups here): a buildah working container of the image, `buildah run
// --isolation chroot --network host`, removed afterwards. Used by scripts/build-images.mjs and
// scripts/lib/backup-image-test.mjs.
import fs from 'node:fs';
import { $ } from 'zx';

/** Work with a fresh working container of the image `tag`, removed afterwards. */
export async function withContainer(tag, work) {
  const ctr = (await $`buildah from --pull-never ${tag}`).stdout.trim();
  try {
    return await work(ctr);
  } finally {
    await $({ nothrow: true })`buildah rm ${ctr}`;
  }
}

/** The arguments of `buildah run` up to the command: chroot isolation, the host's network, settings, volumes. */
export function runArgs(ctr, { env = {}, volumes = [], terminal = false } = {}) {
  const envArgs = Object.entries(env).flatMap(([k, v]) => ['--env', `${k}=${v}`]);
  const volArgs = volumes.flatMap((v) => ['--volume', v]);
  return ['run', ...(terminal ? ['-t'] : []), '--isolation', 'chroot', '--network', 'host', ...envArgs, ...volArgs, ctr, '--'];
}

/** buildah's own lines about the command's exit status (the code is reported anyway). */
export function withoutBuildahNoise(stderr) {
  return stderr.replace(/^(subprocess exited with status \d+|Error: exit status \d+)\n?/gm, '');
}

/** Run a command in a fresh working container of the image `tag`, without a terminal. */
export async function inImage(tag, cmd, opts = {}) {
  return withContainer(tag, async (ctr) => {
    const r = await $({ nothrow: true, stdio: ['ignore', 'pipe', 'pipe'] })`buildah ${runArgs(ctr, opts)} ${cmd}`;
    return { code: r.exitCode, stdout: r.stdout, stderr: withoutBuildahNoise(r.stderr) };
  });
}

/** The image's entry point followed by its default command, as `docker run IMAGE` starts it. */
export async function imageCommand(tag) {
  const config = async (field) => JSON.parse((await $`podman image inspect --format ${`{{json .Config.${field}}}`} ${tag}`).stdout.trim()) ?? [];
  return [...(await config('Entrypoint')), ...(await config('Cmd'))];
}

/** Processes in a chroot (a container) whose environment has `PGPORT=<port>`. */
export function containerProcesses(port) {
  const found = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (fs.readlinkSync(`/proc/${pid}/root`) === '/') continue;
      if (!fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`PGPORT=${port}`)) continue;
      found.push({ pid: Number(pid), cmd: fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim() });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

export { freePort } from './free-port.mjs';
