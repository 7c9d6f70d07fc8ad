import { readFile } from 'node:fs/promises';

/** One side of a comparison. */
export interface Measure {
  readonly seconds: number;
  /** Time of the last `tail` operations, when the repository is already large. */
  readonly tailSeconds: number;
  readonly peakMiB: number;
}

export interface BenchRow {
  readonly name: string;
  readonly peer: string;
  readonly tail: number;
  readonly ours: Measure;
  readonly theirs: Measure;
}

/** VmHWM (peak resident set) of a live process, in MiB. */
export async function peakMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

export const seconds = (since: bigint) => Number(process.hrtime.bigint() - since) / 1e9;

/**
 * Runs `step(i)` for i < count, timing the whole run and the last `tail` steps, sampling the
 * peak RSS of `pid` as it goes.
 */
export async function timeSteps(
  count: number,
  tail: number,
  pid: number,
  step: (i: number) => Promise<void>,
): Promise<Measure> {
  const started = process.hrtime.bigint();
  let tailStart = started;
  let peak = 0;
  for (let i = 0; i < count; i++) {
    if (i === count - tail) tailStart = process.hrtime.bigint();
    await step(i);
    if (i % 10 === 0) peak = Math.max(peak, await peakMiB(pid));
  }
  peak = Math.max(peak, await peakMiB(pid));
  return { seconds: seconds(started), tailSeconds: seconds(tailStart), peakMiB: peak };
}
