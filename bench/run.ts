// `npm run bench`: speed and memory as ratios against a peer measured in the same run.
// Not a test: it prints numbers and never fails on them.
import { benchDebian } from './debian.js';
import { benchDownload } from './download.js';
import { benchPacman } from './pacman.js';

const packages = Number(process.env.BENCH_PACKAGES ?? 150);
const rows = [
  await benchPacman(packages),
  await benchDebian(packages),
  await benchDownload(Number(process.env.BENCH_DOWNLOAD_ROUNDS ?? 20)),
];
for (const r of rows) {
  process.stdout.write(
    [
      `${r.name}`,
      `  stowage: ${r.ours.seconds.toFixed(2)} s, peak RSS ${r.ours.peakMiB.toFixed(0)} MiB`,
      `  ${r.peer}: ${r.theirs.seconds.toFixed(2)} s, peak RSS ${r.theirs.peakMiB.toFixed(0)} MiB`,
      `  time ratio (stowage / ${r.peer}): ${(r.ours.seconds / r.theirs.seconds).toFixed(3)}`,
      `  last-${r.tail} adds ratio: ${(r.ours.tailSeconds / r.theirs.tailSeconds).toFixed(3)}`,
      '',
    ].join('\n'),
  );
}
