/**
 * `npm start`: migrate, bootstrap, listen; finish in-flight requests on SIGTERM/SIGINT. The start
 * script is `exec node dist/main.js`: npm forwards SIGTERM/SIGINT to its child, the shell running
 * the script; `exec` makes that child this process (dash would otherwise die of the signal and
 * leave the server running, orphaned, with its port open).
 */
import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { trackConnections } from './http/connections.js';
import { startMetricsServer } from './observability/metrics-server.js';
import { startBackgroundWork, startRuntime } from './runtime.js';

/**
 * SIGTERM/SIGINT: the process is gone within SHUTDOWN_GRACE_MS (inside `docker stop`'s 10 s).
 * Requests in progress get SHUTDOWN_DRAIN_MS; the rest is for stopping background work and closing
 * the database. close-with-grace exits with 1 if even that does not finish in time.
 */
const SHUTDOWN_GRACE_MS = 9_000;
const SHUTDOWN_DRAIN_MS = 6_000;
const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;
/** A second stop signal this soon after the first is the same request delivered twice. */
const DUPLICATE_SIGNAL_MS = 1_000;

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`latchkey: configuration error: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const runtime = await startRuntime(config);
  const { svc, bootstrap } = runtime;
  if (bootstrap.created) {
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
  const app = await buildApp(runtime);
  const connections = trackConnections(app.server);
  let stopSignal: NodeJS.Signals | undefined;
  let shuttingDown = false;
  const closer = closeWithGrace(
    { delay: SHUTDOWN_GRACE_MS, skip: [...STOP_SIGNALS] },
    async ({ signal = stopSignal, err }) => {
      shuttingDown = true;
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
  if (config.metricsPort !== undefined) {
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
  await app.listen({ port: config.port, host: config.host });
}

main().catch((error: unknown) => {
  process.stderr.write(
    `latchkey: failed to start: ${error instanceof Error ? error.stack : String(error)}\n`,
  );
  process.exit(1);
});
