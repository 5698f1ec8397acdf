/**
 * The background work of a serving instance: the reminder job every
 * LATCHKEY_JOBS_INTERVAL_SECONDS (sooner when a key enters its lead window or expires before the
 * next run: the job knows when that is), and the outbox worker (woken at once when this instance queues
 * mail, and polling so mail queued by other instances or waiting for a retry goes out too).
 * Tests call runOnce() (or jobs/outbox separately) instead of start(), so they never wait on timers.
 */
import type { Services } from '../services.js';
import { smtpTransport } from './mailer.js';
import {
  type MailTransport,
  type OutboxRunResult,
  OutboxWorker,
  type OutboxWorkerOptions,
} from './outbox.js';
import { nextReminderAt, type ReminderRunResult, runReminders } from './reminders.js';

export interface NotifierOptions extends OutboxWorkerOptions {
  /** Overrides the transport built from SMTP_URL (undefined SMTP_URL: mail stays in the outbox). */
  transport?: MailTransport;
  /** Outbox poll interval; default the job interval, at most 10 s. */
  outboxPollMs?: number;
}

export class Notifier {
  readonly outbox: OutboxWorker | undefined;
  private readonly transport: MailTransport | undefined;
  private jobTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private outboxRun: Promise<OutboxRunResult> | undefined;
  private outboxAgain = false;
  private stopped = true;
  private readonly onQueued = () => this.kickOutbox();
  private readonly onKeyChanged = () => void this.replan();
  private jobRunning = false;
  private nextRunAt = Number.POSITIVE_INFINITY;

  constructor(
    private readonly svc: Services,
    private readonly options: NotifierOptions = {},
  ) {
    this.transport = options.transport ?? (svc.config.smtp ? smtpTransport(svc.config.smtp) : undefined);
    this.outbox = this.transport ? new OutboxWorker(svc, this.transport, options) : undefined;
  }

  /** One pass of the reminder job. */
  async runJobs(): Promise<ReminderRunResult> {
    return this.svc.metrics.job('reminders', () => runReminders(this.svc));
  }

  /** Deliver due mail (nothing without an SMTP transport: mail waits in the outbox). */
  async runOutbox(): Promise<OutboxRunResult> {
    const { outbox } = this;
    if (!outbox) return { sent: 0, retried: 0, failed: 0, dropped: 0 };
    return this.svc.metrics.job('mail_outbox', () => outbox.runOnce());
  }

  /** The job, then the outbox: what one tick of the server does. */
  async runOnce(): Promise<{ jobs: ReminderRunResult; outbox: OutboxRunResult }> {
    const jobs = await this.runJobs();
    const outbox = await this.runOutbox();
    return { jobs, outbox };
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const { svc } = this;
    // First pass right away: catch up on reminders missed while no instance was running.
    this.tick();
    // A key created or extended (here or, through the change feed, on another instance) may enter
    // its lead window before the next planned run.
    svc.events.on('key-changed', this.onKeyChanged);
    if (this.outbox) {
      svc.events.on('mail-queued', this.onQueued);
      const pollMs = this.options.outboxPollMs ?? Math.min(this.jobMs, 10_000);
      this.pollTimer = setInterval(() => this.kickOutbox(), pollMs);
      this.kickOutbox();
    } else {
      svc.logger.info('SMTP_URL is not set: mail stays in the outbox (GET /iam/outbox)');
    }
  }

  private get jobMs(): number {
    return this.svc.config.jobsIntervalSeconds * 1000;
  }

  /** Run the job, then sleep until the next run: one interval, or sooner if a key needs it. */
  private tick(): void {
    if (this.stopped) return;
    this.jobRunning = true;
    this.running = this.runJobs()
      .catch((error: unknown) => this.svc.logger.error({ err: error }, 'reminder job failed'))
      .finally(() => {
        this.jobRunning = false;
        this.schedule(this.svc.clock.now().getTime() + this.jobMs);
        return this.replan();
      });
  }

  private schedule(at: number): void {
    if (this.stopped) return;
    clearTimeout(this.jobTimer);
    this.nextRunAt = at;
    this.jobTimer = setTimeout(() => this.tick(), Math.max(0, at - this.svc.clock.now().getTime()));
  }

  /** Bring the next run forward to when the next key enters its lead window or expires. */
  private async replan(): Promise<void> {
    if (this.stopped || this.jobRunning) return;
    try {
      const next = await nextReminderAt(this.svc);
      if (next !== null && next.getTime() + 50 < this.nextRunAt && !this.jobRunning) {
        this.schedule(next.getTime() + 50);
      }
    } catch (error) {
      this.svc.logger.warn({ err: error }, 'could not plan the next reminder run');
    }
  }

  /** Run the outbox now, or once more right after the run in progress. */
  private kickOutbox(): void {
    if (this.stopped || !this.outbox) return;
    if (this.outboxRun) {
      this.outboxAgain = true;
      return;
    }
    this.outboxRun = this.outbox
      .runOnce()
      .catch((error: unknown) => {
        this.svc.logger.error({ err: error }, 'mail outbox run failed');
        return { sent: 0, retried: 0, failed: 0, dropped: 0 };
      })
      .finally(() => {
        this.outboxRun = undefined;
        if (this.outboxAgain) {
          this.outboxAgain = false;
          this.kickOutbox();
        }
      });
  }

  /** Stop the timers and wait for the work in progress (a claimed message is finished, not dropped). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.jobTimer);
    clearInterval(this.pollTimer);
    this.svc.events.off('mail-queued', this.onQueued);
    this.svc.events.off('key-changed', this.onKeyChanged);
    await this.running;
    await this.outboxRun;
    this.transport?.close();
  }
}
