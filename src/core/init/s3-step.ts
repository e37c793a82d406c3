// The S3 destination: its settings, tested by a probe object written under the prefix and deleted.
import { describeError, isAbort } from '../errors.js';
import { readS3 } from '../settings/destinations.js';
import { accepted, type Answers } from './answers.js';
import type { Ask } from './ask.js';
import { probeS3 } from './probe-s3.js';

export async function s3Step(ask: Ask, answers: Answers, signal: AbortSignal): Promise<void> {
  if (!(await ask.yesNo('Also copy each backup to S3-compatible storage (AWS S3, MinIO, R2, B2, Spaces)?', answers.get('S3_ENABLED') === 'true'))) {
    answers.clear('S3_');
    return;
  }
  answers.set('S3_ENABLED', 'true');
  for (;;) {
    const s3 = (name: string) => (v: string) => accepted(() => readS3(answers.input({ S3_BUCKET: answers.get('S3_BUCKET') ?? 'bucket', [name]: v || undefined })));
    answers.set('S3_BUCKET', await ask.text('Bucket (S3_BUCKET)', { default: answers.get('S3_BUCKET'), validate: s3('S3_BUCKET') }));
    const prefix = await ask.text('Folder in the bucket (S3_PREFIX; Enter for the top of the bucket)', { default: answers.get('S3_PREFIX'), validate: s3('S3_PREFIX') });
    answers.set('S3_PREFIX', prefix.replace(/^\/+|\/+$/g, '') || undefined);
    answers.set('S3_REGION', await ask.text('Region (S3_REGION)', { default: answers.get('S3_REGION') ?? 'us-east-1', validate: s3('S3_REGION') }));
    const endpoint = await ask.text('Endpoint URL of a store other than AWS (S3_ENDPOINT; Enter for AWS S3)', { default: answers.get('S3_ENDPOINT'), validate: s3('S3_ENDPOINT') });
    answers.set('S3_ENDPOINT', endpoint || undefined);
    const pathStyle = await ask.yesNo('Path-style URLs, https://host/bucket (S3_FORCE_PATH_STYLE; MinIO and most self-hosted stores need them)?', endpoint !== '');
    answers.set('S3_FORCE_PATH_STYLE', pathStyle ? 'true' : undefined);
    const accessKey = await ask.secret('Access key id (S3_ACCESS_KEY; Enter for the standard AWS credential chain)');
    answers.set('S3_ACCESS_KEY', accessKey || undefined);
    answers.set('S3_SECRET_KEY', accessKey ? await ask.secret('Secret access key (S3_SECRET_KEY)', { validate: (v) => (v === '' ? 'give the secret key that belongs to the access key' : true) }) : undefined);
    try {
      const settings = readS3(answers.input());
      if (!settings) return;
      ask.say(`Testing ${`s3://${settings.bucket}${settings.prefix ? `/${settings.prefix}` : ''}`}: writing and deleting a probe object ...`);
      const key = await probeS3(settings, signal);
      ask.say(`✔ wrote and deleted ${key}`);
      return;
    } catch (err) {
      if (isAbort(err, signal)) throw err;
      ask.say(`✖ ${describeError(err)}`);
      if (!(await ask.yesNo('Change the S3 answers and try again? (No: no copies to S3)', true))) {
        answers.clear('S3_');
        return;
      }
    }
  }
}
