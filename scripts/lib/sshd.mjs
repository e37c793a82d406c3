// A private sshd on 127.0.0.1 as the remote host of the image tests in scripts/build-images.mjs (as
// in test/helpers/sshd.ts): host key, a client key in authorized_keys, a known_hosts file for it,
// root login by key only, SFTP built in. Needs /usr/sbin/sshd (apt-get install openssh-server, or
// npm run provision).
import fs from 'node:fs';
import path from 'node:path';
import { $ } from 'zx';
import { freePort } from './buildah.mjs';

export const SSHD = '/usr/sbin/sshd';

/**
 * Starts sshd with its files in `<dir>/keys` and `<dir>/remote` as the folder to write to.
 * Returns the files, the RSYNC_* settings for the host side, and stop().
 */
export async function startSshd(dir) {
  const keys = path.join(dir, 'keys');
  const remoteRoot = path.join(dir, 'remote');
  fs.mkdirSync(keys, { mode: 0o700 });
  fs.mkdirSync(remoteRoot);
  fs.mkdirSync('/run/sshd', { recursive: true });
  const port = await freePort();
  await $`ssh-keygen -q -t ed25519 -N ${''} -f ${path.join(keys, 'hostkey')}`;
  await $`ssh-keygen -q -t ed25519 -N ${''} -f ${path.join(keys, 'backup_key')}`;
  fs.copyFileSync(path.join(keys, 'backup_key.pub'), path.join(keys, 'authorized_keys'));
  const hostPub = fs.readFileSync(path.join(keys, 'hostkey.pub'), 'utf8').split(/\s+/).slice(0, 2).join(' ');
  fs.writeFileSync(path.join(keys, 'known_hosts'), `[127.0.0.1]:${port} ${hostPub}\n`);
  const proc = $({ nothrow: true })`${SSHD} -D -e -f /dev/null -p ${port} -o ListenAddress=127.0.0.1 -h ${path.join(keys, 'hostkey')} -o AuthorizedKeysFile=${path.join(keys, 'authorized_keys')} -o PidFile=${path.join(keys, 'sshd.pid')} -o StrictModes=no -o PasswordAuthentication=no -o KbdInteractiveAuthentication=no -o PermitRootLogin=prohibit-password -o UsePAM=no -o ${'Subsystem=sftp internal-sftp'}`;
  return {
    keys,
    remoteRoot,
    key: path.join(keys, 'backup_key'),
    knownHosts: path.join(keys, 'known_hosts'),
    remote: { RSYNC_ENABLED: 'true', RSYNC_HOST: '127.0.0.1', RSYNC_PORT: String(port), RSYNC_USER: 'root', RSYNC_PATH: remoteRoot, RETRY_DELAY: '1' },
    async stop() {
      proc.kill();
      await proc;
    },
  };
}
