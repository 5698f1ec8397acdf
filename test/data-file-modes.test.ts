/**
 * Data files 0600 in a 0700 directory (issue 12, finding 10): the SQLite database (with its -wal and
 * -shm files) and master.key hold password hashes and sealed secrets, so no other local user may
 * read them. Fresh installs are created so; older ones are tightened at start-up, with a warning.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers/app.js';
import { describeEachEngine } from './helpers/each-engine.js';
import { type ScratchDatabase, scratchDatabase } from './helpers/engines.js';

const modeOf = (file: string) => fs.statSync(file).mode & 0o777;

// The usual umask (files 0644, directories 0755 unless asked otherwise), so the test sees what a
// default install would; restored afterwards. (A stricter umask would hide the problem.)
let previousUmask: number | undefined;
beforeAll(() => {
  previousUmask = process.umask(0o022);
});
afterAll(() => {
  if (previousUmask !== undefined) process.umask(previousUmask);
});

function warnings(t: TestApp): Array<{ path: string; msg: string }> {
  return t.logs
    .map((line) => JSON.parse(line) as { level: number; path?: string; msg: string })
    .filter((entry) => entry.level === 40 && entry.path !== undefined)
    .map((entry) => ({ path: entry.path as string, msg: entry.msg }));
}

describeEachEngine('file permissions', (engine) => {
  describe('data directory', { timeout: 60_000 }, () => {
    let db: ScratchDatabase;
    let dataDir: string;
    const sqliteFiles = () =>
      engine === 'sqlite'
        ? ['latchkey.sqlite', 'latchkey.sqlite-wal', 'latchkey.sqlite-shm'].map((f) => path.join(dataDir, f))
        : [];
    beforeAll(async () => {
      db = await scratchDatabase(engine);
      dataDir = path.join(db.dataDir, 'fresh', 'data');
    });
    afterAll(async () => db?.drop());

    it('a fresh data directory is 0700 and every file latchkey creates in it 0600', async () => {
      const t = await startTestApp(engine, { db, env: { LATCHKEY_DATA_DIR: dataDir } });
      try {
        expect(modeOf(dataDir).toString(8)).toBe('700');
        const files = [path.join(dataDir, 'master.key'), ...sqliteFiles()];
        for (const file of files) expect(modeOf(file).toString(8), file).toBe('600');
        // Whatever else latchkey keeps there is private too.
        for (const entry of fs.readdirSync(dataDir, { withFileTypes: true })) {
          const full = path.join(dataDir, entry.name);
          expect(modeOf(full).toString(8), full).toBe(entry.isDirectory() ? '700' : '600');
        }
        expect(warnings(t).filter((w) => /tightened/.test(w.msg))).toEqual([]);
      } finally {
        await t.close();
      }
    });

    it('an older install (a 0755 directory, 0644 files) is tightened at start-up, with a warning for each', async () => {
      fs.chmodSync(dataDir, 0o755);
      const files = [path.join(dataDir, 'master.key'), ...sqliteFiles().filter((f) => fs.existsSync(f))];
      expect(files.length).toBeGreaterThan(0);
      for (const file of files) fs.chmodSync(file, 0o644);
      if (engine === 'sqlite') {
        // Leftovers of an unclean stop, as an older version created them.
        for (const f of sqliteFiles().slice(1)) fs.writeFileSync(f, '', { mode: 0o644, flag: 'a' });
        fs.chmodSync(path.join(dataDir, 'latchkey.sqlite-wal'), 0o644);
        fs.chmodSync(path.join(dataDir, 'latchkey.sqlite-shm'), 0o644);
      }
      const t = await startTestApp(engine, { db, env: { LATCHKEY_DATA_DIR: dataDir } });
      try {
        expect(modeOf(dataDir).toString(8)).toBe('700');
        for (const file of [path.join(dataDir, 'master.key'), ...sqliteFiles()]) {
          expect(modeOf(file).toString(8), file).toBe('600');
        }
        const tightened = warnings(t).filter((w) =>
          /^tightened this (file|directory) from 0[67][0-7]{2}/.test(w.msg),
        );
        const expected = [dataDir, path.join(dataDir, 'master.key'), ...sqliteFiles()];
        expect(tightened.map((w) => w.path).sort()).toEqual(expected.sort());
        // The data is still readable: the app started and signed the administrator in.
        expect(t.adminToken).toBeTruthy();
      } finally {
        await t.close();
      }
    });
  });
});

describe('a DATABASE_URL=sqlite: file outside the data directory', { timeout: 60_000 }, () => {
  let root: ScratchDatabase;
  beforeAll(async () => {
    root = await scratchDatabase('sqlite');
  });
  afterAll(async () => root?.drop());

  it('its new directory is created 0700 and the database 0600', async () => {
    const file = path.join(root.dataDir, 'elsewhere', 'db', 'latchkey.sqlite');
    const t = await startTestApp('sqlite', { db: root, env: { DATABASE_URL: `sqlite:${file}` } });
    try {
      expect(modeOf(path.dirname(file)).toString(8)).toBe('700');
      for (const f of [file, `${file}-wal`, `${file}-shm`]) expect(modeOf(f).toString(8), f).toBe('600');
    } finally {
      await t.close();
    }
  });

  it('an existing shared directory is left as it is (with a warning); the database files are still 0600', async () => {
    const shared = path.join(root.dataDir, 'shared');
    fs.mkdirSync(shared, { mode: 0o755 });
    fs.chmodSync(shared, 0o755);
    fs.writeFileSync(path.join(shared, 'someone-elses.txt'), 'not latchkey');
    const file = path.join(shared, 'latchkey.sqlite');
    const t = await startTestApp('sqlite', { db: root, env: { DATABASE_URL: `sqlite:${file}` } });
    try {
      expect(modeOf(shared).toString(8)).toBe('755');
      for (const f of [file, `${file}-wal`, `${file}-shm`]) expect(modeOf(f).toString(8), f).toBe('600');
      expect(warnings(t)).toContainEqual({
        path: shared,
        msg: expect.stringMatching(/is 0755; give it a directory of its own, mode 0700/),
      });
    } finally {
      await t.close();
    }
  });
});
