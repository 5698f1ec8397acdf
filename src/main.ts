/**
 * `npm start`: one serving process (serve.ts), or with LATCHKEY_WORKERS > 1 a primary process and
 * its workers on the one port (cluster/). The start script is `exec node dist/main.js`: npm
 * forwards SIGTERM/SIGINT to its child, the shell running the script; `exec` makes that child this
 * process (dash would otherwise die of the signal and leave the server running, orphaned, with its
 * port open).
 */
import cluster from 'node:cluster';
import { ConfigError, loadConfig } from './config.js';
import { serve } from './serve.js';

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
  // Imported on demand: one process (the default) never loads the cluster code.
  if (config.workers > 1 && cluster.isPrimary) {
    const { runPrimary } = await import('./cluster/primary.js');
    await runPrimary(config);
  } else if (config.workers > 1) {
    const { serveAsWorker } = await import('./cluster/worker.js');
    await serveAsWorker(config);
  } else {
    await serve(config);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `latchkey: failed to start: ${error instanceof Error ? error.stack : String(error)}\n`,
  );
  process.exit(1);
});
