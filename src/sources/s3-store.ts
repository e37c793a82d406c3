// The S3 transport of the S3 destination: clients configured for any S3-compatible store, retries
// with backoff, paged listings grouped by folder, small objects, streamed multipart uploads checked
// afterwards, batched deletes, multipart clean-up. It knows keys and objects, not backups: the
// backup protocol (marker, manifest last, what a finished folder is) is in s3.ts.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Transform } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
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
import { AbortedError, ExternalError, messageOf } from '../core/errors.js';
import type { Manifest, ManifestFile } from '../core/backup/manifest.js';
import { withRetry } from '../core/retry.js';
import { redact, registerSecret } from '../core/secrets.js';
import type { S3Settings } from '../core/settings/destinations.js';
import { PermanentS3Error, describeS3Error, isNoSuchKey, isTransientS3 } from './s3-errors.js';

const MiB = 1024 * 1024;
/** Default part size of multipart uploads (S3's minimum is 5 MiB; at most 10,000 parts per object). */
const DEFAULT_PART_SIZE = 8 * MiB;
const MAX_PARTS = 10_000;
/** DeleteObjects takes at most 1000 keys per request. */
const DELETE_BATCH = 1000;

export interface S3Tuning {
  /** Bytes per part of a multipart upload (at least 5 MiB); default 8 MiB, more for huge files. */
  partSize?: number;
  /** Parts uploaded at once per file (memory: about (queueSize + 1) x partSize); default 2, which keeps a run with S3 under 200 MB. */
  queueSize?: number;
}

export interface ListedObject {
  key: string;
  bytes: number;
  lastModified?: Date;
}

export interface FolderObjects {
  /** Direct children of the folder: name -> object. */
  files: Map<string, ListedObject>;
}

/** The group of listFolders() that holds the objects directly under the prefix (not a folder name). */
export const TOP_LEVEL = '';

export class S3Store {
  readonly location: string;
  readonly client: S3Client;
  /** For GetObject streams: no idle timeout, since a reader may pause for long (psql under load). */
  readonly streamClient: S3Client;
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

  /** The object key of a file of a folder under the prefix. */
  keyOf(folder: string, file: string): string {
    return `${this.base}${folder}/${file}`;
  }

  /** The object key of a file directly under the prefix (seed 002's flat files). */
  topKey(file: string): string {
    return `${this.base}${file}`;
  }

  /** Closes the clients' connections. */
  destroy(): void {
    this.client.destroy();
    this.streamClient.destroy();
  }

  retry<T>(what: string, work: () => Promise<T>, signal: AbortSignal | undefined, onRetry?: (message: string) => void): Promise<T> {
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
  async uploadFile(
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

  async putSmall(key: string, body: string, contentType: string, metadata: Record<string, string>, signal?: AbortSignal): Promise<void> {
    await this.client.send(
      new PutObjectCommand({ Bucket: this.settings.bucket, Key: key, Body: body, ContentType: contentType, Metadata: metadata }),
      { abortSignal: signal },
    );
  }

  /** Best effort: stores without ListMultipartUploads (s3rver) answer NotImplemented. */
  async abortUploadsUnder(prefix: string, signal?: AbortSignal): Promise<void> {
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

  /**
   * Every object under the prefix, grouped by the folder right below it (pages of 1000 keys); the
   * objects directly under the prefix (no folder) under TOP_LEVEL.
   */
  async listFolders(signal?: AbortSignal): Promise<Map<string, FolderObjects>> {
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
        if (slash === 0 || rest === '') continue;
        const folder = slash < 0 ? TOP_LEVEL : rest.slice(0, slash);
        const name = slash < 0 ? rest : rest.slice(slash + 1);
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
  async readText(key: string, signal?: AbortSignal): Promise<string | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.settings.bucket, Key: key }), { abortSignal: signal });
      return (await out.Body?.transformToString('utf8')) ?? '';
    } catch (err) {
      if (isNoSuchKey(err)) return undefined;
      throw err;
    }
  }

  /** Deletes keys in batches of at most 1000, each batch retried per the policy. */
  async deleteKeys(keys: string[], what: string, signal?: AbortSignal): Promise<void> {
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const batch = keys.slice(i, i + DELETE_BATCH);
      await this.retry(what, () => this.deleteKeysOnce(batch, signal), signal);
    }
  }

  async deleteKeysOnce(keys: string[], signal?: AbortSignal): Promise<void> {
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

/** A metadata value must be printable ASCII in an HTTP header: other names are percent-encoded. */
function headerSafe(value: string): string {
  return /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/.test(value) && !value.includes('%') ? value : encodeURIComponent(value);
}

function formatWait(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)} s`;
}
