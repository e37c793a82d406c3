// Backups in S3-compatible storage: s3://<bucket>/<prefix>/<folder>/<file>, the same files as the
// local folder. Works with AWS S3 and third-party stores (MinIO, Spaces, R2, B2, s3rver).
//
// How a push keeps "nothing half-uploaded looks finished":
//   1. <folder>/.pg-backups-incomplete (a small JSON marker naming the files about to come);
//   2. every backup file, streamed (multipart above the part size), checked by size afterwards;
//   3. <folder>/manifest.json, last: from here on the folder is a finished backup;
//   4. the marker is deleted.
// A folder with the marker and no manifest is never listed (without the marker, a folder holding only
// .sql.gz files would look like a legacy backup of the bash tool). A failed push deletes what it
// wrote, the marker last; what it cannot delete stays hidden behind the marker until
// pruneIncomplete() clears it.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { AbortMultipartUploadCommand, DeleteObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { AbortedError, ExternalError, VerificationError } from '../core/errors.js';
import { parseManifest, serializeManifest, type Manifest } from '../core/backup/manifest.js';
import { FOLDER_PATTERN, MANIFEST_FILE, folderTime } from '../core/backup/names.js';
import { redact } from '../core/secrets.js';
import type { S3Settings } from '../core/settings/destinations.js';
import type { KeepRule } from '../core/rotation.js';
import { PermanentS3Error, describeS3Error, isNoSuchKey } from './s3-errors.js';
import { mapLimit } from '../core/map-limit.js';
import { entryWithManifest, entryWithoutManifest, oversizedManifest } from './entry.js';
import { newestFirst, type BackupEntry, type Destination, type PushProgress } from '../core/source.js';
import { isSeed002File, seed002Entry } from '../core/seed002.js';
import { S3Store, TOP_LEVEL, type FolderObjects, type S3Tuning } from './s3-store.js';

export type { S3Tuning } from './s3-store.js';

/** Marks a folder whose push has started and not finished. */
export const INCOMPLETE_MARKER = '.pg-backups-incomplete';

/** Manifests read at once by list(). */
const READ_CONCURRENCY = 8;


/** The marker's content. */
export interface IncompleteMarker {
  tool: 'pg-backups';
  folder: string;
  startedAt: string;
  /** The backup files this push was about to upload (not manifest.json). */
  files: string[];
}



export class S3Destination implements Destination {
  readonly kind = 's3' as const;
  readonly location: string;
  /** The transport: requests, retries, listing pages, streamed uploads. */
  readonly store: S3Store;

  constructor(
    readonly settings: S3Settings,
    tuning: S3Tuning = {},
  ) {
    this.store = new S3Store(settings, tuning);
    this.location = this.store.location;
  }

  get retentionDays(): number {
    return this.settings.retentionDays;
  }

  get keepRules(): readonly KeepRule[] {
    return this.settings.keepRules;
  }

  /** The object key of a file of a backup folder (of a seed 002 backup: the file under the prefix). */
  keyOf(folder: string, file: string): string {
    return isSeed002File(folder) && file === folder ? this.store.topKey(file) : this.store.keyOf(folder, file);
  }

  /** Closes the clients' connections. */
  destroy(): void {
    this.store.destroy();
  }

  // ---------------------------------------------------------------------------------------------
  // push

  async push(
    localPath: string,
    manifest: Manifest,
    opts: { signal?: AbortSignal; onProgress?: (p: PushProgress) => void; onRetry?: (message: string) => void } = {},
  ): Promise<void> {
    const { signal } = opts;
    const folder = manifest.folder;
    if (!FOLDER_PATTERN.test(folder)) throw new ExternalError(`S3 upload to ${this.location}: ${JSON.stringify(folder)} is not a backup folder name`);
    signal?.throwIfAborted();
    const written: string[] = []; // keys this push may have created, in order
    const pendingAborts: Array<{ key: string; uploadId: string }> = [];
    const markerKey = this.keyOf(folder, INCOMPLETE_MARKER);
    let markerWritten = false;
    let step = `check for an existing ${folder} in ${this.location}`;
    const retry = <T>(work: () => Promise<T>) => this.store.retry(step, work, signal, opts.onRetry);
    try {
      const existing = await retry(() => this.store.readText(this.keyOf(folder, MANIFEST_FILE), signal));
      if (existing !== undefined) {
        if (sameBackup(existing, manifest, `${this.location}/${folder}`)) return; // already there, whole
        throw new PermanentS3Error(`${this.location}/${folder} already holds a different backup (its manifest.json differs); it is left as it is`);
      }
      const manifestBody = await readLocalManifest(localPath, manifest);

      step = `upload of ${folder}/${INCOMPLETE_MARKER} to ${this.location}`;
      const marker: IncompleteMarker = { tool: 'pg-backups', folder, startedAt: new Date().toISOString(), files: manifest.files.map((f) => f.name) };
      markerWritten = true;
      await retry(() => this.store.putSmall(markerKey, `${JSON.stringify(marker, null, 2)}\n`, 'application/json', { timestamp: folder }, signal));

      const totalBytes = manifest.files.reduce((n, f) => n + f.bytes, 0);
      let doneBytes = 0;
      for (const file of manifest.files) {
        step = `upload of ${folder}/${file.name} to ${this.location}`;
        const key = this.keyOf(folder, file.name);
        written.push(key);
        await retry(() =>
          this.store.uploadFile(join(localPath, file.name), key, file, manifest, signal, pendingAborts, (bytes) =>
            opts.onProgress?.({ file: file.name, bytes: doneBytes + bytes, totalBytes }),
          ),
        );
        doneBytes += file.bytes;
      }

      step = `upload of ${folder}/${MANIFEST_FILE} to ${this.location}`;
      const manifestKey = this.keyOf(folder, MANIFEST_FILE);
      written.unshift(manifestKey); // deleted first if anything goes wrong from here
      await retry(() =>
        this.store.putSmall(manifestKey, manifestBody, 'application/json', { timestamp: folder, 'postgres-version': String(manifest.server.major) }, signal),
      );
    } catch (err) {
      await this.cleanupFailedPush(written, markerWritten ? markerKey : undefined, pendingAborts);
      if (signal?.aborted || err instanceof AbortedError) throw new AbortedError(`S3 upload of ${folder} to ${this.location} stopped before it finished`);
      throw new ExternalError(redact(`S3 ${step} failed: ${describeS3Error(err, this.settings)}`));
    }
    // Finished: the manifest is there. The marker is no longer needed (and harmless if it stays).
    try {
      await this.store.client.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: markerKey }));
    } catch {
      /* list() ignores a marker next to a manifest; remove() deletes it with the backup */
    }
  }

  /** Best effort, one try each: the manifest first, then the files, then (only if all went) the marker. */
  private async cleanupFailedPush(written: string[], markerKey: string | undefined, pendingAborts: Array<{ key: string; uploadId: string }>): Promise<void> {
    for (const { key, uploadId } of pendingAborts) {
      try {
        await this.store.client.send(new AbortMultipartUploadCommand({ Bucket: this.settings.bucket, Key: key, UploadId: uploadId }));
      } catch {
        /* left for the store's lifecycle rule (AbortIncompleteMultipartUpload) or pruneIncomplete() */
      }
    }
    let allGone = true;
    const manifestKeys = written.filter((k) => k.endsWith(`/${MANIFEST_FILE}`));
    const fileKeys = written.filter((k) => !k.endsWith(`/${MANIFEST_FILE}`));
    for (const keys of [manifestKeys, fileKeys]) {
      if (keys.length === 0 || !allGone) continue;
      try {
        await this.store.deleteKeysOnce(keys);
      } catch {
        allGone = false;
      }
    }
    if (markerKey && allGone) {
      try {
        await this.store.client.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: markerKey }));
      } catch {
        /* the marker keeps the folder hidden; pruneIncomplete() clears it */
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // list, openFile, remove

  async list(signal?: AbortSignal): Promise<BackupEntry[]> {
    const folders = await this.store.listFolders(signal);
    const candidates: Array<{ folder: string; time: Date; objects: FolderObjects }> = [];
    for (const [folder, objects] of folders) {
      const time = folderTime(folder);
      if (time) candidates.push({ folder, time, objects });
    }
    const entries = await mapLimit(candidates, READ_CONCURRENCY, ({ folder, time, objects }) => this.readEntry(folder, time, objects, signal));
    // seed 002's flat files, directly under the prefix
    for (const [name, o] of folders.get(TOP_LEVEL)?.files ?? []) entries.push(seed002Entry({ name, bytes: o.bytes }));
    return entries.filter((e): e is BackupEntry => e !== undefined).sort(newestFirst);
  }

  private async readEntry(folder: string, time: Date, objects: FolderObjects, signal?: AbortSignal): Promise<BackupEntry | undefined> {
    const files = [...objects.files.values()]
      .map((o) => ({ name: o.key.slice(o.key.lastIndexOf('/') + 1), bytes: o.bytes }))
      .filter((f) => f.name !== INCOMPLETE_MARKER)
      .sort((a, b) => a.name.localeCompare(b.name));
    const listed = { folder, time, files };
    const manifestObject = objects.files.get(MANIFEST_FILE);
    if (manifestObject) {
      const where = `${this.location}/${folder}`;
      const oversized = oversizedManifest(listed, where, manifestObject.bytes);
      if (oversized) return oversized;
      const text = await this.store.retry(`read of ${folder}/${MANIFEST_FILE} from ${this.location}`, () => this.store.readText(this.keyOf(folder, MANIFEST_FILE), signal), signal).catch(
        (err: unknown) => {
          if (signal?.aborted || err instanceof AbortedError) throw new AbortedError();
          throw new ExternalError(redact(`S3 read of ${folder}/${MANIFEST_FILE} from ${this.location} failed: ${describeS3Error(err, this.settings)}`));
        },
      );
      if (text === undefined) return undefined; // deleted since the listing
      return entryWithManifest(listed, text, where);
    }
    if (objects.files.has(INCOMPLETE_MARKER)) return undefined; // a push that has not finished (or failed)
    return entryWithoutManifest(listed);
  }

  async openFile(folder: string, file: string, signal?: AbortSignal): Promise<Readable> {
    const key = this.keyOf(folder, file);
    try {
      const out = await this.store.retry(
        `download of ${folder}/${file} from ${this.location}`,
        () => this.store.streamClient.send(new GetObjectCommand({ Bucket: this.settings.bucket, Key: key }), { abortSignal: signal }),
        signal,
      );
      if (!(out.Body instanceof Readable)) throw new ExternalError(`S3 download of ${folder}/${file} from ${this.location} gave no stream`);
      return out.Body;
    } catch (err) {
      if (signal?.aborted || err instanceof AbortedError) throw new AbortedError();
      if (err instanceof ExternalError) throw err;
      if (isNoSuchKey(err)) throw new VerificationError(`${this.location}/${folder}/${file} is missing`);
      throw new ExternalError(redact(`S3 download of ${folder}/${file} from ${this.location} failed: ${describeS3Error(err, this.settings)}`));
    }
  }

  async remove(entry: BackupEntry, signal?: AbortSignal): Promise<void> {
    if (entry.status !== 'finished' || !entry.manifest) throw new Error(`only finished backups are removed, not ${entry.folder}`);
    const folder = entry.folder;
    let step = `deletion of ${folder}/${MANIFEST_FILE} in ${this.location}`;
    try {
      // The manifest first: from then on the folder no longer looks finished.
      await this.store.retry(step, () => this.store.client.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: this.keyOf(folder, MANIFEST_FILE) }), { abortSignal: signal }), signal);
      step = `deletion of the files of ${folder} in ${this.location}`;
      const keys = [...new Set(entry.manifest.files.map((f) => f.name))].filter((n) => n && n !== MANIFEST_FILE).map((n) => this.keyOf(folder, n));
      keys.push(this.keyOf(folder, INCOMPLETE_MARKER)); // ours too, should a push have left it
      await this.store.deleteKeys(keys, step, signal);
    } catch (err) {
      if (signal?.aborted || err instanceof AbortedError) throw new AbortedError();
      throw new ExternalError(redact(`S3 ${step} failed: ${describeS3Error(err, this.settings)}`));
    }
  }

  /**
   * Clears what failed pushes left: folders with the incomplete marker and no manifest, whose
   * folder time and marker are both older than `olderThan`. Deletes exactly the files the marker
   * names, then the marker; nothing else. Also aborts multipart uploads left under those folders
   * (where the store supports listing them). Returns the folders cleared.
   */
  async pruneIncomplete(olderThan: Date, opts: { signal?: AbortSignal; dryRun?: boolean } = {}): Promise<string[]> {
    const { signal } = opts;
    const folders = await this.store.listFolders(signal);
    const cleared: string[] = [];
    for (const [folder, objects] of folders) {
      const time = folderTime(folder);
      const marker = objects.files.get(INCOMPLETE_MARKER);
      if (!time || !marker || objects.files.has(MANIFEST_FILE)) continue;
      if (time.getTime() >= olderThan.getTime()) continue;
      if (marker.lastModified && marker.lastModified.getTime() >= olderThan.getTime()) continue; // a push may still be at work
      let step = `read of ${folder}/${INCOMPLETE_MARKER} from ${this.location}`;
      try {
        const text = await this.store.retry(step, () => this.store.readText(marker.key, signal), signal);
        if (text === undefined) continue;
        const names = markerFiles(text);
        if (!names) continue; // not a marker we can read: touch nothing
        cleared.push(folder);
        if (opts.dryRun) continue;
        await this.store.abortUploadsUnder(this.keyOf(folder, ''), signal);
        step = `deletion of the incomplete upload ${folder} in ${this.location}`;
        await this.store.deleteKeys(names.map((n) => this.keyOf(folder, n)), step, signal);
        await this.store.retry(step, () => this.store.client.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: marker.key }), { abortSignal: signal }), signal);
      } catch (err) {
        if (signal?.aborted || err instanceof AbortedError) throw new AbortedError();
        throw new ExternalError(redact(`S3 ${step} failed: ${describeS3Error(err, this.settings)}`));
      }
    }
    return cleared.sort();
  }

}

/** Whether the manifest on S3 is the one being pushed (same folder, same files, same checksums). */
function sameBackup(existingText: string, manifest: Manifest, where: string): boolean {
  let existing: Manifest;
  try {
    existing = parseManifest(existingText, where);
  } catch {
    return false;
  }
  const key = (m: Manifest) =>
    JSON.stringify([m.folder, [...m.files].map((f) => `${f.name}:${f.bytes}:${f.sha256}`).sort()]);
  return key(existing) === key(manifest);
}

/** The local manifest.json's exact bytes (so the copy is byte-identical), or the manifest serialized. */
async function readLocalManifest(localPath: string, manifest: Manifest): Promise<string> {
  try {
    const text = await readFile(join(localPath, MANIFEST_FILE), 'utf8');
    const local = parseManifest(text, localPath);
    if (local.folder === manifest.folder) return text;
  } catch {
    /* fall back to the manifest given */
  }
  return serializeManifest(manifest);
}

/** The file names of a marker, or undefined if it is not a readable pg-backups marker. */
function markerFiles(text: string): string[] | undefined {
  try {
    const data = JSON.parse(text) as Partial<IncompleteMarker>;
    if (data?.tool !== 'pg-backups' || !Array.isArray(data.files)) return undefined;
    const names = data.files.filter((n): n is string => typeof n === 'string' && n !== '' && !n.includes('/') && n !== MANIFEST_FILE && n !== '.' && n !== '..');
    return names.length === data.files.length ? names : undefined;
  } catch {
    return undefined;
  }
}
