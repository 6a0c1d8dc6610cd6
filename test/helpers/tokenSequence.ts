/** A fixed pseudo-random sequence of `n` ids in [0, vocab), starting with BOS (1) and ending with the last id. */
export function tokenSequence(n: number, vocab: number, seed: number): number[] {
  let s = seed >>> 0;
  const out = [1];
  while (out.length < n - 1) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out.push(s % vocab);
  }
  out.push(vocab - 1);
  return out;
}
