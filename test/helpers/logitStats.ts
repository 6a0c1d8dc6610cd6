/** Agreement between two sets of logits, measured the way the reference data's README does. */

export interface LogitAgreement {
  /** Per position: ||ours - ref||2 / ||ref||2. */
  relErrors: number[];
  median: number;
  worst: number;
  /** Fraction of positions whose argmax agrees. */
  argmaxAgreement: number;
}

function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

export function compareLogits(ours: ArrayLike<number>[], ref: ArrayLike<number>[]): LogitAgreement {
  if (ours.length !== ref.length) throw new Error(`position count differs: ${ours.length} vs ${ref.length}`);
  const relErrors: number[] = [];
  let agree = 0;
  for (let p = 0; p < ref.length; p++) {
    const a = ours[p];
    const b = ref[p];
    if (a.length !== b.length) throw new Error(`vocabulary size differs at position ${p}: ${a.length} vs ${b.length}`);
    let num = 0;
    let den = 0;
    for (let i = 0; i < b.length; i++) {
      num += (a[i] - b[i]) ** 2;
      den += b[i] ** 2;
    }
    relErrors.push(Math.sqrt(num / den));
    if (argmax(a) === argmax(b)) agree++;
  }
  const sorted = [...relErrors].sort((x, y) => x - y);
  return {
    relErrors,
    median: sorted[Math.floor(sorted.length / 2)],
    worst: sorted[sorted.length - 1],
    argmaxAgreement: agree / ref.length,
  };
}

/** Splits a flat nRows * nVocab array into rows. */
export function rows(flat: Float32Array, nVocab: number): Float32Array[] {
  const out: Float32Array[] = [];
  for (let i = 0; i * nVocab < flat.length; i++) out.push(flat.subarray(i * nVocab, (i + 1) * nVocab));
  return out;
}
