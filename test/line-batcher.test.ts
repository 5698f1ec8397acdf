/**
 * The service logger's destination (stdoutDestination): lines of one turn of the event loop reach
 * sonic-boom in one write, in order, never more than the largest write and never split, and nothing
 * is lost when the process exits in the same turn it logged.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { LineBatcher } from '../src/services.js';

/** A destination that records each write it is handed. */
const recorder = () => {
  const writes: string[] = [];
  const calls: string[] = [];
  return {
    writes,
    calls,
    sink: {
      write: (s: string) => {
        writes.push(s);
        return true;
      },
      flush: (cb?: (error?: Error) => void) => {
        calls.push('flush');
        cb?.();
      },
      flushSync: () => calls.push('flushSync'),
      end: () => calls.push('end'),
    },
  };
};
const nextTurn = () => new Promise((r) => setImmediate(r));
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

describe('LineBatcher', () => {
  it('hands the lines of one turn over in one write, in order', async () => {
    const { sink, writes } = recorder();
    const batcher = new LineBatcher(sink, -1, 4096);
    batcher.write('a\n');
    batcher.write('b\n');
    batcher.write('c\n');
    expect(writes).toEqual([]);
    await nextTurn();
    expect(writes).toEqual(['a\nb\nc\n']);
    batcher.write('d\n');
    await nextTurn();
    expect(writes).toEqual(['a\nb\nc\n', 'd\n']);
  });

  it('never makes a write larger than the largest allowed, never splits a line, and counts bytes', async () => {
    const { sink, writes } = recorder();
    const batcher = new LineBatcher(sink, -1, 100);
    // 29 bytes each but 17 characters: three fit in 100 bytes, four do not.
    const lines = Array.from({ length: 10 }, (_, i) => `${String(i).padStart(4, '0')}${'é'.repeat(12)}\n`);
    expect(Buffer.byteLength(lines[0] as string)).toBe(29);
    for (const l of lines) batcher.write(l);
    await nextTurn();
    expect(writes.join('')).toBe(lines.join(''));
    for (const w of writes) {
      expect(Buffer.byteLength(w)).toBeLessThanOrEqual(100);
      expect(w.endsWith('\n')).toBe(true);
    }
    expect(writes.map((w) => w.split('\n').length - 1)).toEqual([3, 3, 3, 1]);
  });

  it('passes flush and end on after handing over what it holds', async () => {
    const { sink, writes, calls } = recorder();
    const batcher = new LineBatcher(sink, -1, 4096);
    batcher.write('x\n');
    await new Promise<void>((resolve) => batcher.flush(() => resolve()));
    expect(writes).toEqual(['x\n']);
    batcher.write('y\n');
    batcher.end();
    expect(writes).toEqual(['x\n', 'y\n']);
    expect(calls).toEqual(['flush', 'end']);
  });

  it('flushSync writes the destination’s queue, then its own lines, synchronously', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-batcher-'));
    dirs.push(dir);
    const file = path.join(dir, 'out.log');
    const fd = fs.openSync(file, 'a');
    const sonic = pino.destination({ dest: fd, sync: false, minLength: 4096 });
    // A line queued in sonic-boom itself (written before the batcher existed)…
    sonic.write('first\n');
    const batcher = new LineBatcher(sonic, fd, 4096);
    batcher.write('second\n');
    batcher.write('third\n');
    batcher.flushSync();
    expect(fs.readFileSync(file, 'utf8')).toBe('first\nsecond\nthird\n');
    sonic.destroy();
  });

  it('a closed stdout ends the writing, not the process (EPIPE at exit)', async () => {
    const services = fileURLToPath(new URL('../src/services.ts', import.meta.url));
    const code = `
      import { createLogger, stdoutDestination } from ${JSON.stringify(services)};
      const logger = createLogger({ logLevel: 'info' }, stdoutDestination());
      setTimeout(() => {
        for (let i = 0; i < 500; i++) logger.info({ i }, 'line');
        process.exit(0);
      }, 300);
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    // The reader goes away before anything is written.
    child.stdout.destroy();
    const [status] = (await once(child, 'exit')) as [number | null];
    expect(stderr).toBe('');
    expect(status).toBe(0);
  });

  it('loses nothing when the process exits in the turn it logged (stdoutDestination)', () => {
    const services = fileURLToPath(new URL('../src/services.ts', import.meta.url));
    const code = `
      import { createLogger, stdoutDestination } from ${JSON.stringify(services)};
      const logger = createLogger({ logLevel: 'info' }, stdoutDestination());
      for (let i = 0; i < 500; i++) logger.info({ i }, 'line');
      process.exit(0);
    `;
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      encoding: 'utf8',
    });
    expect(run.status).toBe(0);
    const lines = run.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { i: number; msg: string });
    // Every line, once. Their order is not asserted: a write sonic-boom started asynchronously
    // before the exit can land after the lines written synchronously at exit (seen under load).
    expect(lines.map((l) => l.i).sort((a, b) => a - b)).toEqual(Array.from({ length: 500 }, (_, i) => i));
  });
});
