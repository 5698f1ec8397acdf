/**
 * latchkey's files on disk (the SQLite database with its -wal/-shm files, master.key) hold password
 * hashes and sealed secrets: they are readable by latchkey's own user only, 0600, in a 0700
 * directory. New ones are created so; older installs (0644 files, a 0755 data directory) are
 * tightened at start-up, and each change is reported so it can be logged.
 */
import fs from 'node:fs';
import path from 'node:path';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** A permission latchkey changed, or found too open and left alone (`changed: false`). */
export interface ModeNote {
  readonly path: string;
  /** Permission bits found, e.g. 0o644. */
  readonly from: number;
  /** The bits latchkey wants there. */
  readonly to: number;
  readonly changed: boolean;
  readonly message: string;
}

export type ModeReporter = (note: ModeNote) => void;

const GROUP_OR_OTHER = 0o077;

function modeOf(stat: fs.Stats): number {
  return stat.mode & 0o777;
}

function octal(mode: number): string {
  return `0${mode.toString(8)}`;
}

/**
 * Create `dir` (and missing parents, which get the same mode) as 0700, or tighten it when it already
 * exists and `tightenExisting` allows. A directory latchkey does not own by name (the directory of a
 * `DATABASE_URL=sqlite:` file outside the data directory, which may be /var/lib or a project
 * folder other software uses too) is reported, never changed. Sticky directories (/tmp) are never
 * changed either.
 */
export function ensurePrivateDir(dir: string, tightenExisting: boolean, report?: ModeReporter): void {
  const missing = !fs.existsSync(dir);
  if (missing) {
    // mkdir's mode is masked by the umask, which can only remove bits: 0700 stays at most 0700.
    fs.mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
    return;
  }
  const stat = fs.statSync(dir);
  const mode = modeOf(stat);
  if ((mode & GROUP_OR_OTHER) === 0) return;
  const sticky = (stat.mode & 0o1000) !== 0;
  if (!tightenExisting || sticky || path.dirname(dir) === dir) {
    report?.({
      path: dir,
      from: mode,
      to: PRIVATE_DIR_MODE,
      changed: false,
      message: `the directory holding latchkey's files is ${octal(mode)}; give it a directory of its own, mode 0700`,
    });
    return;
  }
  tighten(dir, mode, PRIVATE_DIR_MODE, 'directory', report);
}

/** Tighten an existing file to 0600 (nothing happens when it does not exist). */
export function tightenPrivateFile(file: string, report?: ModeReporter): void {
  let mode: number;
  try {
    mode = modeOf(fs.statSync(file));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if ((mode & GROUP_OR_OTHER) !== 0) tighten(file, mode, PRIVATE_FILE_MODE, 'file', report);
}

/**
 * Make sure `file` exists with mode 0600 before anything else opens it: an empty file when it is
 * new (SQLite treats an empty file as a new database, and gives the -wal and -shm files it creates
 * later the database file's mode), tightened when it exists.
 */
export function createPrivateFile(file: string, report?: ModeReporter): void {
  try {
    fs.closeSync(fs.openSync(file, 'wx', PRIVATE_FILE_MODE));
  } catch (error) {
    // Another process created it first, or it was there already.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    tightenPrivateFile(file, report);
  }
}

function tighten(
  target: string,
  from: number,
  to: number,
  what: 'file' | 'directory',
  report: ModeReporter | undefined,
): void {
  try {
    fs.chmodSync(target, to);
  } catch (error) {
    // Not ours to change (another owner, a read-only mount): say so rather than refuse to start.
    report?.({
      path: target,
      from,
      to,
      changed: false,
      message: `could not tighten this ${what} from ${octal(from)} to ${octal(to)} (${(error as NodeJS.ErrnoException).code}); fix it by hand`,
    });
    return;
  }
  report?.({
    path: target,
    from,
    to,
    changed: true,
    message: `tightened this ${what} from ${octal(from)} to ${octal(to)}: only latchkey's user may read its data`,
  });
}
