/** `GET /` (and HEAD) sends a browser to the web console: the first thing `npm start` suggests opening. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers/app.js';

describe('the root path', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp('sqlite', { env: { LOG_LEVEL: 'warn' } });
  });
  afterAll(() => t?.close());

  for (const method of ['GET', 'HEAD'] as const) {
    it(`${method} / redirects (302) to /console/ without credentials`, async () => {
      const res = await t.app.inject({ method, url: '/' });
      expect(res.statusCode, res.body).toBe(302);
      expect(res.headers.location).toBe('/console/');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    });
  }

  it('keeps the query string out of the redirect and answers a query the same way', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/?next=https://evil.example' });
    expect(res.statusCode).toBe(302);
    expect(res.headers.location).toBe('/console/');
  });
});
