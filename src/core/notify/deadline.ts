// The time bound of the notification work of one run: NOTIFY_TIMEOUT from the start, and at most a
// few seconds once the process is stopping (a run stopped by SIGTERM, or a SIGTERM meanwhile: the
// container is going down), so that notifications never hold up a shutdown.
export const STOPPING_BOUND_MS = 3000;

export interface Deadline {
  /** Aborts when the time is up. */
  signal: AbortSignal;
  remainingMs(): number;
  /** What bounds it, for messages: "NOTIFY_TIMEOUT 30s" or "3s while stopping". */
  describe(): string;
  dispose(): void;
}

/** `stopping`: the process's stop signal; `stoppingNow`: already stopping (the run was stopped). */
export function createDeadline(boundMs: number, stopping?: AbortSignal, stoppingNow = false): Deadline {
  const controller = new AbortController();
  let what = `NOTIFY_TIMEOUT ${Math.round(boundMs / 1000)}s`;
  let until = Date.now() + boundMs;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => controller.abort(new Error(`the notification time bound (${what}) was reached`)), Math.max(0, until - Date.now()));
  };
  const shorten = () => {
    if (Date.now() + STOPPING_BOUND_MS >= until) return;
    until = Date.now() + STOPPING_BOUND_MS;
    what = `${STOPPING_BOUND_MS / 1000}s while stopping`;
    arm();
  };
  if (stoppingNow || stopping?.aborted) shorten();
  else stopping?.addEventListener('abort', shorten, { once: true });
  arm();
  return {
    signal: controller.signal,
    remainingMs: () => Math.max(0, until - Date.now()),
    describe: () => what,
    dispose: () => {
      clearTimeout(timer);
      stopping?.removeEventListener('abort', shorten);
    },
  };
}
