/** GET /console/…: static files, SPA fallback, security headers, and a clear 503 without a build. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App, RouteDeps } from '../src/http/app-types.js';
import { registerErrorHandling } from '../src/http/errors.js';
import { CONSOLE_CSP, consoleRoutes } from '../src/http/routes/console.js';

async function appWith(dist: string) {
  const app = Fastify();
  registerErrorHandling(app);
  await app.register(async (scope) => consoleRoutes(scope as unknown as App, {} as RouteDeps, dist));
  await app.ready();
  return app;
}

describe('console route', () => {
  let dir: string;
  let dist: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'latchkey-console-'));
    dist = join(dir, 'dist');
    mkdirSync(join(dist, 'assets'), { recursive: true });
    writeFileSync(join(dist, 'index.html'), '<!doctype html><div id="root"></div>');
    writeFileSync(join(dist, 'assets', 'index-abc.js'), 'console.log(1)');
    writeFileSync(join(dir, 'secret.txt'), 'outside');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('answers 503 with a JSON error naming npm run build when the console is not built', async () => {
    const app = await appWith(join(dir, 'missing'));
    const res = await app.inject({ method: 'GET', url: '/console/' });
    expect(res.statusCode).toBe(503);
    expect(res.json().error.code).toBe('CONSOLE_NOT_BUILT');
    expect(res.json().error.message).toContain('npm run build');
    await app.close();
  });

  it('serves index.html with strict security headers, and falls back to it for app paths', async () => {
    const app = await appWith(dist);
    for (const url of ['/console/', '/console/users/usr_1', '/console/keys?x=1']) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
      expect(res.body).toContain('<div id="root">');
      expect(res.headers['content-type']).toContain('text/html');
      expect(res.headers['cache-control']).toBe('no-cache');
      expect(res.headers['content-security-policy']).toBe(CONSOLE_CSP);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['x-frame-options']).toBe('DENY');
    }
    expect(CONSOLE_CSP).toContain("frame-ancestors 'none'");
    expect(CONSOLE_CSP).toContain("script-src 'self'");
    expect(CONSOLE_CSP).not.toMatch(/script-src[^;]*unsafe/);
    await app.close();
  });

  it('serves hashed assets as immutable and answers 404 for a missing one', async () => {
    const app = await appWith(dist);
    const asset = await app.inject({ method: 'GET', url: '/console/assets/index-abc.js' });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['content-type']).toContain('javascript');
    expect(asset.headers['cache-control']).toContain('immutable');
    const missing = await app.inject({ method: 'GET', url: '/console/assets/nope.js' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('NOT_FOUND');
    await app.close();
  });

  it('never serves files outside the build', async () => {
    const app = await appWith(dist);
    for (const url of ['/console/../secret.txt', '/console/%2e%2e/secret.txt', '/console/..%2fsecret.txt']) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.body, url).not.toContain('outside');
    }
    await app.close();
  });

  it('redirects /console to /console/', async () => {
    const app = await appWith(dist);
    const res = await app.inject({ method: 'GET', url: '/console' });
    expect(res.statusCode).toBe(302);
    expect(res.headers.location).toBe('/console/');
    await app.close();
  });
});
