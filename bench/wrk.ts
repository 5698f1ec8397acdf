/**
 * wrk (Debian's `wrk` package: `apt-get install -y wrk`), the load generator of the throughput
 * comparisons when it is installed. It is a C program that costs a small fraction of autocannon's
 * CPU time per request (bench:auth part 6 prints both), and on these 2-core machines the load
 * generator shares the cores with the servers it measures: the cheaper it is, the more a figure
 * says about the server. One thread, keep-alive connections, fixed headers and body (a signed
 * request is replayed as autocannon replays it: SigV4 signs no nonce). A Lua `done` hook prints the
 * counts as one line of JSON.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

export const WRK_BIN = '/usr/bin/wrk';

export const wrkInstalled = (): boolean => fs.existsSync(WRK_BIN);

/**
 * The load generator of the benches' throughput parts: BENCH_GENERATOR (`wrk` or `autocannon`),
 * else wrk when it is installed, else autocannon.
 */
export function throughputGenerator(): 'wrk' | 'autocannon' {
  const chosen = process.env.BENCH_GENERATOR ?? (wrkInstalled() ? 'wrk' : 'autocannon');
  if (chosen !== 'wrk' && chosen !== 'autocannon')
    throw new Error(`BENCH_GENERATOR must be wrk or autocannon, not ${chosen}`);
  return chosen;
}

export interface WrkOptions {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  connections: number;
  seconds: number;
}

export interface WrkResult {
  /** Requests answered. */
  total: number;
  /** Answered per second over the run. */
  rps: number;
  /** Socket errors (connect, read, write) and timeouts. */
  errors: number;
  /** Answers with a status of 400 or more (wrk counts 3xx as successes). */
  non2xx: number;
}

const execFileAsync = promisify(execFile);

/** A Lua string literal for any bytes (decimal escapes: no quoting rules to get wrong). */
const luaString = (text: string) =>
  `"${[...Buffer.from(text, 'utf8')].map((b) => `\\${b.toString().padStart(3, '0')}`).join('')}"`;

export async function runWrk(options: WrkOptions): Promise<WrkResult> {
  const url = new URL(options.url);
  const lines = [
    `wrk.method = ${luaString(options.method ?? 'GET')}`,
    ...(options.body === undefined ? [] : [`wrk.body = ${luaString(options.body)}`]),
  ];
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    // wrk writes Host from the URL itself (a second one would be a 400): a signed request's Host
    // must be the URL's.
    if (name.toLowerCase() === 'host') {
      if (value !== url.host) throw new Error(`wrk sends Host ${url.host}, not ${value}`);
      continue;
    }
    lines.push(`wrk.headers[${luaString(name)}] = ${luaString(value)}`);
  }
  lines.push(
    'done = function(summary)',
    '  local e = summary.errors',
    `  io.write(string.format('\\n{"total":%d,"micros":%d,"errors":%d,"non2xx":%d}\\n',`,
    '    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status))',
    'end',
  );
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-wrk-'));
  const script = path.join(dir, 'run.lua');
  fs.writeFileSync(script, `${lines.join('\n')}\n`);
  try {
    const { stdout } = await execFileAsync(
      WRK_BIN,
      ['-t', '1', '-c', String(options.connections), '-d', `${options.seconds}s`, '-s', script, options.url],
      { maxBuffer: 1 << 24 },
    );
    const last = stdout.trim().split('\n').at(-1) ?? '';
    const r = JSON.parse(last) as { total: number; micros: number; errors: number; non2xx: number };
    return { total: r.total, rps: r.total / (r.micros / 1e6), errors: r.errors, non2xx: r.non2xx };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
