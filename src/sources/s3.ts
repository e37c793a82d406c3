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
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { AbortedError, ExternalError, VerificationError, messageOf } from '../core/errors.js';
import { MAX_MANIFEST_BYTES, parseManifest, serializeManifest, type Manifest, type ManifestFile } from '../core/backup/manifest.js';
import { FOLDER_PATTERN, MANIFEST_FILE, folderTime } from '../core/backup/names.js';
import { withRetry } from '../core/retry.js';
import { redact, registerSecret } from '../core/secrets.js';
import type { S3Settings } from '../core/settings/destinations.js';
import { PermanentS3Error, describeS3Error, isNoSuchKey, isTransientS3 } from './s3-errors.js';
import { entryWithManifest, entryWithoutManifest } from './entry.js';
import type { BackupEntry, Destination, PushProgress } from './source.js';

/** Marks a folder whose push has started and not finished. */
export const INCOMPLETE_MARKER = '.pg-backups-incomplete';

const MiB = 1024 * 1024;
/** Default part size of multipart uploads (S3's minimum is 5 MiB; at most 10,000 parts per object). */
const DEFAULT_PART_SIZE = 8 * MiB;
const MAX_PARTS = 10_000;
/** DeleteObjects takes at most 1000 keys per request. */
const DELETE_BATCH = 1000;
/** Manifests read at once by list(). */
const READ_CONCURRENCY = 8;

export interface S3Tuning {
  /** Bytes per part of a multipart upload (at least 5 MiB); default 8 MiB, more for huge files. */
  partSize?: number;
  /** Parts uploaded at once per file (memory: about (queueSize + 1) x partSize); default 2, which keeps a run with S3 under 200 MB. */
  queueSize?: number;
}

/** The marker's content. */
export interface IncompleteMarker {
  tool: 'pg-backups';
  folder: string;
  startedAt: string;
  /** The backup files this push was about to upload (not manifest.json). */
  files: string[];
}

interface ListedObject {
  key: string;
  bytes: number;
  lastModified?: Date;
}

interface FolderObjects {
  /** Direct children of the folder: name -> object. */
  files: Map<string, ListedObject>;
}

export class S3Destination implements Destination {
  readonly kind = 's3' as const;
  readonly location: string;
  private readonly client: S3Client;
  /** For GetObject streams: no idle timeout, since a reader may pause for long (psql under load). */
  private readonly streamClient: S3Client;
  private readonly base: string;
  private readonly partSize: number;
  private readonly queueSize: number;

  constructor(
    readonly settings: S3Settings,
    tuning: S3Tuning = {},
  ) {
    registerSecret(settings.secretKey);
    this.location = `s3://${settings.bucket}${settings.prefix ? `/${settings.prefix}` : ''}`;
    this.base = settings.prefix ? `${settings.prefix}/` : '';
    this.partSize = Math.max(5 * MiB, tuning.partSize ?? DEFAULT_PART_SIZE);
    this.queueSize = Math.max(1, tuning.queueSize ?? 2);
    // The SDK warns on every client creation on Node 20; it still works there.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const config: S3ClientConfig = {
      region: settings.region,
      endpoint: settings.endpoint,
      forcePathStyle: settings.forcePathStyle,
      credentials:
        settings.accessKey !== undefined && settings.secretKey !== undefined
          ? { accessKeyId: settings.accessKey, secretAccessKey: settings.secretKey }
          : undefined,
      // Our own retries (RETRY_ATTEMPTS, RETRY_DELAY) are the only ones.
      maxAttempts: 1,
      // Only the checksums an operation requires: third-party stores (and s3rver) store the
      // aws-chunked framing of streamed uploads as part of the object otherwise.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    };
    this.client = new S3Client({ ...config, requestHandler: { connectionTimeout: 15_000, socketTimeout: 120_000 } });
    this.streamClient = new S3Client({ ...config, requestHandler: { connectionTimeout: 15_000 } });
  }

  get retentionDays(): number {
    return this.settings.retentionDays;
  }

  /** The object key of a file of a backup folder. */
  keyOf(folder: string, file: string): string {
    return `${this.base}${folder}/${file}`;
  }

  /** Closes the clients' connections. */
  destroy(): void {
    this.client.destroy();
    this.streamClient.destroy();
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
    const retry = <T>(work: () => Promise<T>) => this.retry(step, work, signal, opts.onRetry);
    try {
      const existing = await retry(() => this.readText(this.keyOf(folder, MANIFEST_FILE), signal));
      if (existing !== undefined) {
        if (sameBackup(existing, manifest, `${this.location}/${folder}`)) return; // already there, whole
        throw new PermanentS3Error(`${this.location}/${folder} already holds a different backup (its manifest.json differs); it is left as it is`);
      }
      const manifestBody = await readLocalManifest(localPath, manifest);

      step = `upload of ${folder}/${INCOMPLETE_MARKER} to ${this.location}`;
      const marker: IncompleteMarker = { tool: 'pg-backups', folder, startedAt: new Date().toISOString(), files: manifest.files.map((f) => f.name) };
      markerWritten = true;
      await retry(() => this.putSmall(markerKey, `${JSON.stringify(marker, null, 2)}\n`, 'application/json', { timestamp: folder }, signal));

      const totalBytes = manifest.files.reduce((n, f) => n + f.bytes, 0);
      let doneBytes = 0;
      for (const file of manifest.files) {
        step = `upload of ${folder}/${file.name} to ${this.location}`;
        const key = this.keyOf(folder, file.name);
        written.push(key);
        await retry(() =>
          this.uploadFile(join(localPath, file.name), key, file, manifest, signal, pendingAborts, (bytes) =>
            opts.onProgress?.({ file: file.name, bytes: doneBytes + bytes, totalBytes }),
          ),
        );
        doneBytes += file.bytes;
      }

      step = `upload of ${folder}/${MANIFEST_FILE} to ${this.location}`;
      const manifestKey = this.keyOf(folder, MANIFEST_FILE);
      written.unshift(manifestKey); // deleted first if anything goes wrong from here
      await retry(() =>
        this.putSmall(manifestKey, manifestBody, 'application/json', { timestamp: folder, 'postgres-version': String(manifest.server.major) }, signal),
      );
    } catch (err) {
      await this.cleanupFailedPush(written, markerWritten ? markerKey : undefined, pendingAborts);
      if (signal?.aborted || err instanceof AbortedError) throw new AbortedError(`S3 upload of ${folder} to ${this.location} stopped before it finished`);
      throw new ExternalError(redact(`S3 ${step} failed: ${describeS3Error(err, this.settings)}`));
    }
    // Finished: the manifest is there. The marker is no longer needed (and harmless if it stays).
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: markerKey }));
    } catch {
      /* list() ignores a marker next to a manifest; remove() deletes it with the backup */
    }
  }

  private retry<T>(what: string, work: () => Promise<T>, signal: AbortSignal | undefined, onRetry?: (message: string) => void): Promise<T> {
    return withRetry(() => work(), {
      policy: this.settings.retry,
      signal,
      what,
      isTransient: isTransientS3,
      onRetry: (info) =>
        onRetry?.(
          redact(
            `S3 ${info.what} failed (try ${info.attempt} of ${info.of}): ${describeS3Error(info.error, this.settings)}; trying again in ${formatWait(info.waitMs)}`,
          ),
        ),
    });
  }

  /** One try at uploading one backup file, streamed from disk; checks what the store holds afterwards. */
  private async uploadFile(
    path: string,
    key: string,
    file: ManifestFile,
    manifest: Manifest,
    signal: AbortSignal | undefined,
    pendingAborts: Array<{ key: string; uploadId: string }>,
    onBytes: (bytes: number) => void,
  ): Promise<void> {
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch (err) {
      throw new PermanentS3Error(`cannot read the local file ${path}: ${messageOf(err)}`);
    }
    if (size !== file.bytes) throw new PermanentS3Error(`the local file ${path} has ${size} bytes, but the manifest says ${file.bytes}; it changed after the backup`);

    const hash = createHash('sha256');
    let seen = 0;
    const source = createReadStream(path);
    const body = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        seen += chunk.length;
        done(null, chunk);
      },
    });
    source.once('error', (err) => body.destroy(new PermanentS3Error(`cannot read the local file ${path}: ${messageOf(err)}`)));
    source.pipe(body);

    // The client Upload uses, with the push's signal on every request (so an abort stops a part in
    // flight) and the id of its multipart upload recorded (so a failed one can be aborted).
    let uploadId: string | undefined;
    const client = this.client;
    const scoped = Object.create(client, {
      send: {
        value: async (command: Parameters<S3Client['send']>[0], options?: { abortSignal?: AbortSignal }) => {
          const out = (await client.send(command as never, { ...options, abortSignal: signal })) as { UploadId?: string };
          if (command instanceof CreateMultipartUploadCommand) uploadId = out.UploadId;
          if (command instanceof CompleteMultipartUploadCommand) uploadId = undefined;
          return out;
        },
      },
    }) as S3Client;

    const partSize = Math.max(this.partSize, Math.ceil(file.bytes / (MAX_PARTS - 1) / MiB) * MiB);
    const metadata: Record<string, string> = {
      timestamp: manifest.folder,
      'postgres-version': String(manifest.server.major),
      'dump-format': manifest.dumpFormat ?? 'plain',
      sha256: file.sha256,
    };
    if (file.database !== undefined) metadata.database = headerSafe(file.database);
    const upload = new Upload({
      client: scoped,
      params: {
        Bucket: this.settings.bucket,
        Key: key,
        Body: body,
        ContentLength: file.bytes,
        ContentType: 'application/gzip',
        Metadata: metadata,
      },
      partSize,
      queueSize: this.queueSize,
      leavePartsOnError: true, // aborted below with a client that has no (aborted) signal
    });
    upload.on('httpUploadProgress', (p) => onBytes(p.loaded ?? 0));
    try {
      await upload.done();
    } catch (err) {
      if (uploadId !== undefined) {
        const pending = { key, uploadId };
        try {
          await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.settings.bucket, Key: key, UploadId: uploadId }));
        } catch {
          pendingAborts.push(pending); // tried again by the push's cleanup
        }
      }
      throw err;
    } finally {
      source.destroy();
      body.destroy();
    }
    if (seen !== file.bytes || hash.digest('hex') !== file.sha256) {
      throw new PermanentS3Error(`the local file ${path} does not match its manifest entry (size or sha256); it changed after the backup`);
    }
    const head = await client.send(new HeadObjectCommand({ Bucket: this.settings.bucket, Key: key }), { abortSignal: signal });
    if (head.ContentLength !== file.bytes) {
      throw new PermanentS3Error(
        `the store holds ${String(head.ContentLength)} bytes for ${key}, not the ${file.bytes} uploaded; it altered the upload (see the S3 section of the README on checksum settings)`,
      );
    }
  }

  private async putSmall(key: string, body: string, contentType: string, metadata: Record<string, string>, signal?: AbortSignal): Promise<void> {
    await this.client.send(
      new PutObjectCommand({ Bucket: this.settings.bucket, Key: key, Body: body, ContentType: contentType, Metadata: metadata }),
      { abortSignal: signal },
    );
  }

  /** Best effort, one try each: the manifest first, then the files, then (only if all went) the marker. */
  private async cleanupFailedPush(written: string[], markerKey: string | undefined, pendingAborts: Array<{ key: string; uploadId: string }>): Promise<void> {
    for (const { key, uploadId } of pendingAborts) {
      try {
        await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.settings.bucket, Key: key, UploadId: uploadId }));
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
        await this.deleteKeysOnce(keys);
      } catch {
        allGone = false;
      }
    }
    if (markerKey && allGone) {
      try {
        await this.client.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: markerKey }));
      } catch {
        /* the marker keeps the folder hidden; pruneIncomplete() clears it */
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // list, openFile, remove

  async list(signal?: AbortSignal): Promise<BackupEntry[]> {
    const folders = await this.listFolders(signal);
    const candidates: Array<{ folder: string; time: Date; objects: FolderObjects }> = [];
    for (const [folder, objects] of folders) {
      const time = folderTime(folder);
      if (time) candidates.push({ folder, time, objects });
    }
    const entries = await mapLimit(candidates, READ_CONCURRENCY, ({ folder, time, objects }) => this.readEntry(folder, time, objects, signal));
    return entries.filter((e): e is BackupEntry => e !== undefined).sort((a, b) => b.folder.localeCompare(a.folder));
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
      if (manifestObject.bytes > MAX_MANIFEST_BYTES) {
        return { folder, time, status: 'damaged', problem: `${where}/${MANIFEST_FILE} is ${manifestObject.bytes} bytes, too big for a manifest; the backup is damaged`, files };
      }
      const text = await this.retry(`read of ${folder}/${MANIFEST_FILE} from ${this.location}`, () => this.readText(this.keyOf(folder, MANIFEST_FILE), signal), signal).catch(
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
      const out = await this.retry(
        `download of ${folder}/${file} from ${this.location}`,
        () => this.streamClient.send(new GetObjectCommand({ Bucket: this.settings.bucket, Key: key }), { abortSignal: signal }),
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
      await this.retry(step, () => this.client.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: this.keyOf(folder, MANIFEST_FILE) }), { abortSignal: signal }), signal);
      step = `deletion of the files of ${folder} in ${this.location}`;
      const keys = [...new Set(entry.manifest.files.map((f) => f.name))].filter((n) => n && n !== MANIFEST_FILE).map((n) => this.keyOf(folder, n));
      keys.push(this.keyOf(folder, INCOMPLETE_MARKER)); // ours too, should a push have left it
      await this.deleteKeys(keys, step, signal);
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
    const folders = await this.listFolders(signal);
    const cleared: string[] = [];
    for (const [folder, objects] of folders) {
      const time = folderTime(folder);
      const marker = objects.files.get(INCOMPLETE_MARKER);
      if (!time || !marker || objects.files.has(MANIFEST_FILE)) continue;
      if (time.getTime() >= olderThan.getTime()) continue;
      if (marker.lastModified && marker.lastModified.getTime() >= olderThan.getTime()) continue; // a push may still be at work
      let step = `read of ${folder}/${INCOMPLETE_MARKER} from ${this.location}`;
      try {
        const text = await this.retry(step, () => this.readText(marker.key, signal), signal);
        if (text === undefined) continue;
        const names = markerFiles(text);
        if (!names) continue; // not a marker we can read: touch nothing
        cleared.push(folder);
        if (opts.dryRun) continue;
        await this.abortUploadsUnder(this.keyOf(folder, ''), signal);
        step = `deletion of the incomplete upload ${folder} in ${this.location}`;
        await this.deleteKeys(names.map((n) => this.keyOf(folder, n)), step, signal);
        await this.retry(step, () => this.client.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: marker.key }), { abortSignal: signal }), signal);
      } catch (err) {
        if (signal?.aborted || err instanceof AbortedError) throw new AbortedError();
        throw new ExternalError(redact(`S3 ${step} failed: ${describeS3Error(err, this.settings)}`));
      }
    }
    return cleared.sort();
  }

  /** Best effort: stores without ListMultipartUploads (s3rver) answer NotImplemented. */
  private async abortUploadsUnder(prefix: string, signal?: AbortSignal): Promise<void> {
    try {
      let keyMarker: string | undefined;
      let uploadIdMarker: string | undefined;
      for (;;) {
        const out = await this.client.send(
          new ListMultipartUploadsCommand({ Bucket: this.settings.bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
          { abortSignal: signal },
        );
        for (const u of out.Uploads ?? []) {
          if (u.Key && u.UploadId) {
            await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.settings.bucket, Key: u.Key, UploadId: u.UploadId }), { abortSignal: signal });
          }
        }
        if (!out.IsTruncated) break;
        keyMarker = out.NextKeyMarker;
        uploadIdMarker = out.NextUploadIdMarker;
      }
    } catch {
      signal?.throwIfAborted();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // helpers

  /** Every object under the prefix, grouped by the folder right below it (pages of 1000 keys). */
  private async listFolders(signal?: AbortSignal): Promise<Map<string, FolderObjects>> {
    const folders = new Map<string, FolderObjects>();
    let token: string | undefined;
    let page = 0;
    do {
      page++;
      const what = `listing of ${this.location} (page ${page})`;
      let out;
      try {
        out = await this.retry(
          what,
          () =>
            this.client.send(
              new ListObjectsV2Command({ Bucket: this.settings.bucket, Prefix: this.base || undefined, MaxKeys: 1000, ContinuationToken: token }),
              { abortSignal: signal },
            ),
          signal,
        );
      } catch (err) {
        if (signal?.aborted || err instanceof AbortedError) throw new AbortedError();
        throw new ExternalError(redact(`S3 listing of ${this.location} failed: ${describeS3Error(err, this.settings)}`));
      }
      for (const o of out.Contents ?? []) {
        if (!o.Key || !o.Key.startsWith(this.base)) continue;
        const rest = o.Key.slice(this.base.length);
        const slash = rest.indexOf('/');
        if (slash <= 0) continue;
        const folder = rest.slice(0, slash);
        const name = rest.slice(slash + 1);
        if (!name || name.includes('/')) continue; // deeper objects are not files of the folder
        let entry = folders.get(folder);
        if (!entry) folders.set(folder, (entry = { files: new Map() }));
        entry.files.set(name, { key: o.Key, bytes: o.Size ?? 0, lastModified: o.LastModified });
      }
      const next = out.IsTruncated ? out.NextContinuationToken : undefined;
      if (out.IsTruncated && !next) throw new ExternalError(`S3 listing of ${this.location} failed: the store said the listing goes on but gave no continuation token`);
      token = next;
    } while (token);
    return folders;
  }

  /** An object's content as text; undefined if it does not exist. */
  private async readText(key: string, signal?: AbortSignal): Promise<string | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.settings.bucket, Key: key }), { abortSignal: signal });
      return (await out.Body?.transformToString('utf8')) ?? '';
    } catch (err) {
      if (isNoSuchKey(err)) return undefined;
      throw err;
    }
  }

  /** Deletes keys in batches of at most 1000, each batch retried per the policy. */
  private async deleteKeys(keys: string[], what: string, signal?: AbortSignal): Promise<void> {
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const batch = keys.slice(i, i + DELETE_BATCH);
      await this.retry(what, () => this.deleteKeysOnce(batch, signal), signal);
    }
  }

  private async deleteKeysOnce(keys: string[], signal?: AbortSignal): Promise<void> {
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const batch = keys.slice(i, i + DELETE_BATCH);
      const out = await this.client.send(
        new DeleteObjectsCommand({ Bucket: this.settings.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
        { abortSignal: signal },
      );
      const failed = (out.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
      if (failed.length > 0) {
        const first = failed[0]!;
        throw Object.assign(new Error(`${failed.length} object(s) could not be deleted, e.g. ${first.Key}: ${first.Code ?? ''} ${first.Message ?? ''}`.trim()), {
          Code: first.Code,
        });
      }
    }
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

/** A metadata value must be printable ASCII in an HTTP header: other names are percent-encoded. */
function headerSafe(value: string): string {
  return /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/.test(value) && !value.includes('%') ? value : encodeURIComponent(value);
}

function formatWait(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)} s`;
}

async function mapLimit<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
