/**
 * One serving process: migrate, bootstrap, listen; finish in-flight requests on SIGTERM/SIGINT.
 * What `npm start` runs with LATCHKEY_WORKERS=1 (main.ts), and what each worker runs with more
 * (cluster/worker.ts adds what workers share through the primary process).
 */
import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.js';
import type { Config } from './config.js';
import { trackConnections } from './http/connections.js';
import { startMetricsServer } from './observability/metrics-server.js';
import { startTracing, stopTracing } from './observability/tracing.js';
import { type Runtime, startBackgroundWork, startRuntime } from './runtime.js';
import type { ServiceOverrides } from './services.js';

/**
 * SIGTERM/SIGINT: the process is gone within SHUTDOWN_GRACE_MS (inside `docker stop`'s 10 s).
 * Requests in progress get SHUTDOWN_DRAIN_MS; the rest is for stopping background work and closing
 * the database. close-with-grace exits with 1 if even that does not finish in time.
 */
export const SHUTDOWN_GRACE_MS = 9_000;
const SHUTDOWN_DRAIN_MS = 6_000;
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;
/** A second stop signal this soon after the first is the same request delivered twice. */
export const DUPLICATE_SIGNAL_MS = 1_000;

/** First start: say so, and print a generated password once (never through the logger). */
export function announceFirstStart(runtime: Runtime): void {
  const { svc, bootstrap } = runtime;
  if (!bootstrap.created) return;
  svc.logger.info(
    { tenantId: bootstrap.tenantId, email: bootstrap.adminEmail },
    'created the first tenant and its administrator',
  );
  if (bootstrap.generatedPassword) {
    // Printed straight to the terminal, never through the logger: log files must not hold it.
    process.stdout.write(
      `\n  latchkey: first start. Sign in as ${bootstrap.adminEmail} with the password\n\n      ${bootstrap.generatedPassword}\n\n` +
        '  It is shown this once. Change it with PATCH /iam/me, or reset it with `npx latchkey admin reset-password`.\n\n',
    );
  }
}

/** What a worker of LATCHKEY_WORKERS changes in a serving process (cluster/worker.ts). */
export interface WorkerRole {
  /** The worker's logger (its lines say which worker wrote them). */
  overrides: ServiceOverrides;
  /** Wire the runtime to the primary (shared counters, throttle, metrics) before the app is built. */
  attach(runtime: Runtime): void;
  /** Call `stop` when the primary asks this worker to stop. */
  onStop(stop: () => void): void;
}

export async function serve(config: Config, worker?: WorkerRole): Promise<void> {
  // OpenTelemetry (only with OTEL_EXPORTER_OTLP_ENDPOINT): before the database opens, which it traces.
  await startTracing();
  const runtime = await startRuntime(config, worker?.overrides);
  const { svc } = runtime;
  worker?.attach(runtime);
  announceFirstStart(runtime);
  const app = await buildApp(runtime);
  if (worker !== undefined) {
    // node:cluster hands a worker its connections accepted by the primary, and Node applies the
    // HTTP server's noDelay only to connections its own listener accepts: without this, Nagle's
    // algorithm meets the client's delayed ACK and a keep-alive connection waits ~40 ms per answer.
    app.server.on('connection', (socket: import('node:net').Socket) => socket.setNoDelay(true));
  }
  const connections = trackConnections(app.server);
  let stopSignal: NodeJS.Signals | undefined;
  let shuttingDown = false;
  const delayMs = config.shutdownDelaySeconds * 1000;
  const closer = closeWithGrace(
    { delay: SHUTDOWN_GRACE_MS + delayMs, skip: [...STOP_SIGNALS] },
    async ({ signal = stopSignal, err }) => {
      shuttingDown = true;
      // GET /readyz answers 503 from now on. With LATCHKEY_SHUTDOWN_DELAY_SECONDS everything else is
      // still served for that long, while load balancers see the 503 and take this instance out.
      svc.lifecycle.stopping = true;
      if (!err && delayMs > 0) {
        svc.logger.info(
          { signal, delaySeconds: config.shutdownDelaySeconds },
          'stopping: /readyz answers 503; serving on until the delay ends',
        );
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
      if (err) svc.logger.error({ err }, 'shutting down after an error');
      else
        svc.logger.info({ signal, ...connections.counts() }, 'shutting down: finishing in-flight requests');
      // Idle connections (a browser's keep-alive and spare ones) close now; requests in progress get
      // until the drain deadline, then their connections are cut so the database still closes cleanly.
      connections.drain();
      const cut = setTimeout(() => {
        svc.logger.warn(
          { ...connections.counts(), drainMs: SHUTDOWN_DRAIN_MS },
          'shutting down: requests still in progress at the end of the grace period; closing their connections',
        );
        connections.closeAll();
      }, SHUTDOWN_DRAIN_MS);
      try {
        await app.close();
      } finally {
        clearTimeout(cut);
      }
      // Stops the background work (reminders, mail, last-used, the change feed) before the database closes.
      await runtime.close();
      await stopTracing(); // the spans still queued are sent before the process exits
    },
  );
  // SIGINT/SIGTERM are handled here, not by close-with-grace, whose handler is briefly unset after
  // the first signal (a second one then kills the process on the spot). Ctrl-C under `npm start`
  // delivers two at once (the terminal's, and npm's forwarded copy): one request to stop. Another
  // signal later means "now": exit at once.
  let firstSignalAt = 0;
  for (const name of STOP_SIGNALS) {
    process.on(name, () => {
      if (!shuttingDown) {
        stopSignal = name;
        firstSignalAt = Date.now();
        closer.close();
      } else if (Date.now() - firstSignalAt > DUPLICATE_SIGNAL_MS) {
        process.stderr.write(`latchkey: ${name} again while shutting down: exiting now\n`);
        process.exit(1);
      }
    });
  }
  // The primary's stop (its SIGTERM/SIGINT, forwarded): the same as a first signal here. A worker
  // also gets the terminal's Ctrl-C itself (one process group); whichever comes first stops it.
  worker?.onStop(() => {
    if (shuttingDown) return;
    stopSignal = 'SIGTERM';
    firstSignalAt = Date.now();
    closer.close();
  });
  // With workers the primary serves the metrics port, summed over every worker.
  if (config.metricsPort !== undefined && worker === undefined) {
    const metricsServer = await startMetricsServer(svc.metrics, config.metricsPort, (err) =>
      svc.logger.error({ err }, 'metrics: collecting failed'),
    );
    app.addHook('onClose', () => metricsServer.close());
    svc.logger.info(
      { port: metricsServer.port },
      'metrics on http://127.0.0.1:%d/metrics',
      metricsServer.port,
    );
  }
  await startBackgroundWork(runtime);
  // Asked to stop while starting: the closer is already closing the app, which must not listen now.
  if (shuttingDown) return;
  await app.listen({ port: config.port, host: config.host });
}
