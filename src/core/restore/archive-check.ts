// verify's check of a custom-format archive's content (its size and sha256 are checked upstream):
// a Writable that reads the archive's header and table of contents as the bytes go by (the TOC
// is at the start) and lets the rest pass unread. Not a custom archive, or a TOC cut short or
// impossible: FileDamage with the reader's reason.
import { Writable } from 'node:stream';
import { FileDamage } from '../file-check.js';
import { messageOf } from '../errors.js';
import { readArchiveToc } from './archive-toc.js';

export function archiveTocCheck(): Writable {
  const label = 'the archive';
  let pending: { chunk: Buffer; done: () => void } | undefined;
  let wake: (() => void) | undefined;
  let ended = false;
  let settled = false;
  const release = () => {
    const p = pending;
    pending = undefined;
    p?.done();
  };
  // The archive's bytes, one chunk at a time (the writer waits until the reader took it).
  const feed: AsyncIterable<Buffer> = {
    [Symbol.asyncIterator]: () => ({
      next: async (): Promise<IteratorResult<Buffer>> => {
        for (;;) {
          if (pending) {
            const { chunk } = pending;
            release();
            return { value: chunk, done: false };
          }
          if (ended) return { value: undefined, done: true };
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
        }
      },
      return: async (): Promise<IteratorResult<Buffer>> => {
        settled = true; // the TOC is read (or failed): the rest is not needed
        release();
        return { value: undefined, done: true };
      },
    }),
  };
  const parsing = readArchiveToc(feed, { label }).then(
    () => undefined,
    (err: unknown) => err,
  );
  parsing.finally(() => {
    settled = true;
    release();
  });
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (settled) return done();
      pending = { chunk, done: () => done() };
      wake?.();
    },
    final(done) {
      ended = true;
      wake?.();
      void parsing.then((err) => done(err === undefined ? null : new FileDamage(messageOf(err))));
    },
  });
}
