/** `npm start`: migrate, bootstrap, listen; finish in-flight requests on SIGTERM/SIGINT. */
import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { Notifier } from './notify/notifier.js';
import { startRuntime } from './runtime.js';

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
  // Expiry reminders and mail delivery: started once the server listens, stopped before the database closes.
  const notifier = new Notifier(svc);
  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err) svc.logger.error({ err }, 'shutting down after an error');
    else svc.logger.info({ signal }, 'shutting down: finishing in-flight requests');
    await app.close();
    await notifier.stop();
    await runtime.close();
  });
  await runtime.startBackground();
  await app.listen({ port: config.port, host: config.host });
  notifier.start();
}

main().catch((error: unknown) => {
  process.stderr.write(
    `latchkey: failed to start: ${error instanceof Error ? error.stack : String(error)}\n`,
  );
  process.exit(1);
});
