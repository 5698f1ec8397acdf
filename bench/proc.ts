/**
 * CPU time of a server under a benchmark, from /proc (Linux): the benches' CPU-per-request figures,
 * which drift less than throughput on a shared machine.
 */
import fs from 'node:fs';

/**
 * CPU time (user + system, in seconds, all threads) of a process and its direct children (a
 * cluster's workers). Throws where /proc cannot be read.
 */
export function cpuSeconds(pid: number): number {
  const ticks = Number(process.env.BENCH_CLK_TCK ?? 100); // getconf CLK_TCK: 100 on Linux
  const ofOne = (p: number): number => {
    const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces, inside parentheses): utime is the 14th
    // field of the line, stime the 15th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticks;
  };
  const children = (p: number): number[] =>
    fs
      .readdirSync(`/proc/${p}/task`)
      .flatMap((t) => fs.readFileSync(`/proc/${p}/task/${t}/children`, 'utf8').trim().split(' '))
      .filter((c) => c !== '')
      .map(Number);
  let total = ofOne(pid);
  for (const child of children(pid)) total += ofOne(child);
  return total;
}

/**
 * CPU time (user + system, seconds) of this process's children that have exited and been waited
 * for (cutime + cstime of /proc/self/stat): a load generator run with execFile counts here once
 * it has finished, servers still running do not.
 */
export function finishedChildrenCpuSeconds(): number {
  const ticks = Number(process.env.BENCH_CLK_TCK ?? 100);
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  // cutime and cstime are the 16th and 17th fields of the line.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) / ticks;
}

/** cpuSeconds, or undefined when there is no process to read (not Linux, or already gone). */
export function cpuSecondsIfKnown(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    return cpuSeconds(pid);
  } catch {
    return undefined;
  }
}

/** Resident memory of a process (VmRSS, bytes), or undefined when it cannot be read. */
export function rssBytes(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
