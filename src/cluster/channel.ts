/**
 * Messages between the primary process and its workers (LATCHKEY_WORKERS > 1) over node:cluster's
 * IPC channel. Workers ask the primary for what must be one per machine (rate and quota counters,
 * the failed-authentication throttle, the sum of every worker's metrics); the primary asks workers
 * for their metrics and tells them to stop.
 *
 * Calls are batched as RedisRates batches its script calls: whatever a worker asks within one turn
 * of its event loop goes in one message, sent in setImmediate after the turn's I/O, and the
 * primary answers the whole batch in one message, each answer matched to its call by id. A busy
 * worker thus pays one message each way for many requests, not one per request.
 */

/** Every message latchkey sends on the channel carries this field (node:cluster's own carry `cmd`). */
export const TAG = 'latchkey';

/** [call id, method, arguments] */
export type Call = [number, string, unknown[]];
/** [call id, ok, result (ok) or error message] */
export type Answer = [number, boolean, unknown];

export type ToPrimary =
  | { latchkey: 'calls'; calls: Call[] }
  | { latchkey: 'metrics-res'; id: number; metrics?: unknown[]; error?: string };

export type ToWorker =
  | { latchkey: 'answers'; answers: Answer[] }
  | { latchkey: 'metrics-req'; id: number }
  | { latchkey: 'stop' };

export function isMessage<T extends { latchkey: string }>(message: unknown): message is T {
  return (
    typeof message === 'object' &&
    message !== null &&
    typeof (message as { latchkey?: unknown }).latchkey === 'string'
  );
}

/** What the primary runs for workers' calls: method name → handler. */
export type Handlers = Record<string, (...args: never[]) => unknown>;

/**
 * The primary's side: answer one worker's batch of calls, in one message. Handlers run in the
 * order the calls were made (counters see requests in the order the worker admitted them).
 */
export async function answerCalls(
  handlers: Handlers,
  calls: readonly Call[],
  reply: (message: ToWorker) => void,
): Promise<void> {
  const answers: Answer[] = [];
  const waits: Array<Promise<void>> = [];
  for (const [id, method, args] of calls) {
    const handler = handlers[method];
    if (handler === undefined) {
      answers.push([id, false, `unknown method ${method}`]);
      continue;
    }
    try {
      const result = (handler as (...a: unknown[]) => unknown)(...args);
      if (result instanceof Promise) {
        const at = answers.push([id, true, undefined]) - 1;
        waits.push(
          result.then(
            (value) => {
              answers[at] = [id, true, value];
            },
            (error: unknown) => {
              answers[at] = [id, false, error instanceof Error ? error.message : String(error)];
            },
          ),
        );
      } else answers.push([id, true, result]);
    } catch (error) {
      answers.push([id, false, error instanceof Error ? error.message : String(error)]);
    }
  }
  if (waits.length > 0) await Promise.all(waits);
  reply({ latchkey: 'answers', answers });
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

/** The worker's side: calls to the primary, batched per event-loop turn. */
export class PrimaryChannel {
  private nextId = 1;
  private queue: Call[] = [];
  private scheduled = false;
  private readonly pending = new Map<number, Pending>();
  private closed = false;

  constructor(private readonly proc: NodeJS.Process = process) {
    proc.on('message', (message: unknown) => {
      if (!isMessage<ToWorker>(message) || message.latchkey !== 'answers') return;
      for (const [id, ok, value] of message.answers) {
        const waiting = this.pending.get(id);
        if (waiting === undefined) continue;
        this.pending.delete(id);
        if (ok) waiting.resolve(value);
        else waiting.reject(new Error(`primary process: ${String(value)}`));
      }
    });
    // The primary is gone (it exits, and node:cluster then ends this worker too): nothing waits
    // forever meanwhile; callers treat a failed call as they treat Redis being away.
    proc.once('disconnect', () => this.fail('the primary process is gone'));
  }

  call<T>(method: string, args: unknown[]): Promise<T> {
    if (this.closed) return Promise.reject(new Error('primary process: the channel is closed'));
    const id = this.nextId++;
    this.queue.push([id, method, args]);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
    });
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const calls = this.queue;
    this.queue = [];
    if (calls.length === 0) return;
    const message: ToPrimary = { latchkey: 'calls', calls };
    try {
      this.proc.send?.(message, undefined, undefined, (error: Error | null) => {
        if (error) this.failCalls(calls, error.message);
      });
    } catch (error) {
      this.failCalls(calls, error instanceof Error ? error.message : String(error));
    }
  };

  private failCalls(calls: readonly Call[], why: string): void {
    for (const [id] of calls) {
      const waiting = this.pending.get(id);
      this.pending.delete(id);
      waiting?.reject(new Error(`primary process: ${why}`));
    }
  }

  private fail(why: string): void {
    this.closed = true;
    for (const waiting of this.pending.values()) waiting.reject(new Error(`primary process: ${why}`));
    this.pending.clear();
  }
}
