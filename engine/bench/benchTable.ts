/** The table `ghostline bench` prints. */
import type { EngineTiming } from "./benchTypes";

export interface BenchReport {
  model: string;
  fileBytes: number;
  weightBytesPerToken: number;
  threads: number;
  kernels: string;
  /**
   * Measured in the same run: all threads streaming a buffer larger than the caches. With a CPU
   * probe, the median of the measurements taken between decode windows.
   */
  readBandwidthBytesPerSecond: number;
  /** Those measurements, bytes per second, in the order they were taken. */
  bandwidthSamples?: number[];
  /** readBandwidth / weightBytesPerToken: no decoder that reads every weight once per token can go faster. */
  decodeCeilingTokensPerSecond: number;
  prefillTokens: number;
  decodeTokens: number;
  engines: EngineTiming[];
  tokenizer?: { vocab: string; bytes: number; milliseconds: number }[];
}

const gib = (n: number) => `${(n / 2 ** 30).toFixed(2)} GiB`;
const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

function pad(cells: string[], widths: number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
}

export function formatBenchTable(r: BenchReport): string {
  const lines: string[] = [];
  lines.push(`model       ${r.model} (${r.fileBytes >= 2 ** 30 ? gib(r.fileBytes) : mib(r.fileBytes)})`);
  lines.push(`threads     ${r.threads} (kernels: ${r.kernels})`);
  const gbs = (n: number) => (n / 1e9).toFixed(1);
  const samples = r.bandwidthSamples ?? [];
  lines.push(
    samples.length > 0
      ? `bandwidth   ${gbs(r.readBandwidthBytesPerSecond)} GB/s read: median of ${samples.length} measurements between decode windows (${gbs(Math.min(...samples))}–${gbs(Math.max(...samples))})`
      : `bandwidth   ${gbs(r.readBandwidthBytesPerSecond)} GB/s read, measured now`,
  );
  lines.push(
    `ceiling     ${r.decodeCeilingTokensPerSecond.toFixed(1)} tokens/s decode = bandwidth / ${mib(r.weightBytesPerToken)} of weights per token`,
  );
  lines.push("");
  const header = ["engine", `prefill ${r.prefillTokens} (tok/s)`, `decode ${r.decodeTokens} (tok/s)`, "decode / ceiling"];
  const rows = r.engines.map((e) => [
    e.engine,
    Number.isFinite(e.prefillTokensPerSecond) ? e.prefillTokensPerSecond.toFixed(1) : "-",
    Number.isFinite(e.decodeTokensPerSecond) ? e.decodeTokensPerSecond.toFixed(1) : "-",
    e.decodeFractionOfCeiling !== undefined && Number.isFinite(e.decodeFractionOfCeiling)
      ? `${(100 * e.decodeFractionOfCeiling).toFixed(0)}%`
      : Number.isFinite(e.decodeTokensPerSecond)
        ? `${((100 * e.decodeTokensPerSecond) / r.decodeCeilingTokensPerSecond).toFixed(0)}%`
        : e.note ?? "-",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  lines.push(pad(header, widths));
  lines.push(widths.map((w) => "-".repeat(w)).join("  "));
  for (const row of rows) lines.push(pad(row, widths));
  for (const e of r.engines) if (e.note) lines.push(`  ${e.engine}: ${e.note}`);
  const windowed = r.engines.find((e) => e.decodeWindows !== undefined);
  if (windowed) {
    lines.push(
      `  decode / ceiling: median over ${windowed.decodeWindows} windows of each window's decode rate against the bandwidth measured beside it (the higher of before and after)`,
    );
  }
  if (r.tokenizer?.length) {
    lines.push("");
    for (const t of r.tokenizer) {
      lines.push(`tokenizer   ${t.vocab}: ${(t.bytes / 1000).toFixed(0)} KB of source in ${t.milliseconds.toFixed(1)} ms (median of 20)`);
    }
  }
  return lines.join("\n");
}
