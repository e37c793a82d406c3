// The questions of `pg-backups init`, over @inquirer/prompts. Ctrl-C at a question (inquirer's
// ExitPromptError) and a stop signal (AbortPromptError) both become AbortedError: exit 1, nothing
// written. Every answer is trimmed; `validate` returns true or the line to show under the question.
import { confirm, input, password, select } from '@inquirer/prompts';
import { AbortedError } from '../errors.js';

export type Check = (value: string) => true | string | Promise<true | string>;

export interface Ask {
  text(message: string, opts?: { default?: string; validate?: Check }): Promise<string>;
  /** Typed without echo (a * per character); never shown again. */
  secret(message: string, opts?: { validate?: Check }): Promise<string>;
  yesNo(message: string, dflt: boolean): Promise<boolean>;
  choose<T extends string>(message: string, choices: readonly T[], dflt: T): Promise<T>;
  /** A line of information between questions. */
  say(line: string): void;
}

export const STOPPED_MESSAGE = 'stopped at a question (Ctrl-C); nothing was written';

async function asked<T>(question: Promise<T>): Promise<T> {
  try {
    return await question;
  } catch (err) {
    const name = (err as Error | undefined)?.name;
    if (name === 'ExitPromptError' || name === 'AbortPromptError' || name === 'CancelPromptError') throw new AbortedError(STOPPED_MESSAGE);
    throw err;
  }
}

export function inquirerAsk(signal: AbortSignal, say: (line: string) => void): Ask {
  const context = { signal };
  return {
    text: async (message, opts = {}) => {
      const answer = await asked(
        input({ message, ...(opts.default !== undefined && opts.default !== '' ? { default: opts.default } : {}), ...(opts.validate ? { validate: (v: string) => opts.validate!(v.trim()) } : {}) }, context),
      );
      return answer.trim();
    },
    secret: (message, opts = {}) => asked(password({ message, mask: '*', ...(opts.validate ? { validate: opts.validate } : {}) }, context)),
    yesNo: (message, dflt) => asked(confirm({ message, default: dflt }, context)),
    choose: (message, choices, dflt) => asked(select({ message, choices: choices.map((c) => ({ name: c, value: c })), default: dflt }, context)),
    say,
  };
}
