/**
 * A plain float64 Llama forward pass, written to be read, not to be fast.
 * It is the yardstick the engine is measured against, and is itself checked
 * against llama.cpp's logits for stories260K.
 *
 * Matrices are row-major as GGUF stores them: a tensor with ne {cols, rows}
 * holds `rows` rows of `cols` values, and y = W x means y[r] = sum_c W[r*cols + c] x[c].
 */

import type { LlamaHyperParams } from "../../engine/gguf/llamaHyperParams";
export type { LlamaHyperParams };

export interface LlamaLayerWeights {
  attnNorm: Float64Array; // (dim)
  wq: Float64Array; // (nHeads * headDim rows, dim)
  wk: Float64Array; // (nKvHeads * headDim rows, dim)
  wv: Float64Array; // (nKvHeads * headDim rows, dim)
  wo: Float64Array; // (dim rows, nHeads * headDim)
  ffnNorm: Float64Array; // (dim)
  wGate: Float64Array; // (ffnDim rows, dim)
  wUp: Float64Array; // (ffnDim rows, dim)
  wDown: Float64Array; // (dim rows, ffnDim)
}

export interface LlamaWeights {
  tokenEmbd: Float64Array; // (vocab rows, dim)
  outputNorm: Float64Array; // (dim)
  output?: Float64Array; // (vocab rows, dim); absent when tied to tokenEmbd
  ropeFreqs?: Float64Array; // (ropeDim / 2): divisors of each pair's frequency
  layers: LlamaLayerWeights[];
}

/** y = W x for W with `rows` rows of x.length values. */
export function matVec(w: Float64Array, x: Float64Array, rows: number): Float64Array {
  const cols = x.length;
  if (w.length !== rows * cols) throw new Error(`matVec: matrix of ${w.length} values is not ${rows} x ${cols}`);
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += w[r * cols + c] * x[c];
    y[r] = sum;
  }
  return y;
}

/** x / sqrt(mean(x^2) + eps) * weight */
export function rmsNorm(x: Float64Array, weight: Float64Array, eps: number): Float64Array {
  let sumSq = 0;
  for (const v of x) sumSq += v * v;
  const scale = 1 / Math.sqrt(sumSq / x.length + eps);
  return x.map((v, i) => v * scale * weight[i]);
}

export function silu(x: number): number {
  return x / (1 + Math.exp(-x));
}

export function softmax(x: Float64Array): Float64Array {
  const max = Math.max(...x);
  const e = x.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

/**
 * RoPE as llama.cpp applies it to Llama GGUF tensors ("normal" mode): within
 * each head, the adjacent pair (2i, 2i+1) turns by
 * pos / factor * base^(-2i / ropeDim) / ropeFreqs[i].
 */
export function applyRope(vec: Float64Array, nHeadsHere: number, pos: number, hp: LlamaHyperParams, ropeFreqs?: Float64Array): void {
  const p = pos / hp.ropeScaleLinear;
  for (let h = 0; h < nHeadsHere; h++) {
    const base = h * hp.headDim;
    for (let i = 0; i < hp.ropeDim / 2; i++) {
      let theta = p * Math.pow(hp.ropeFreqBase, (-2 * i) / hp.ropeDim);
      if (ropeFreqs) theta /= ropeFreqs[i];
      const cos = Math.cos(theta);
      const sin = Math.sin(theta);
      const a = vec[base + 2 * i];
      const b = vec[base + 2 * i + 1];
      vec[base + 2 * i] = a * cos - b * sin;
      vec[base + 2 * i + 1] = a * sin + b * cos;
    }
  }
}

/** Logits (one row of `vocab` per position) for `tokens`, each position seeing itself and those before. */
export function llamaForward(hp: LlamaHyperParams, w: LlamaWeights, tokens: number[]): Float64Array[] {
  const { dim, headDim, nHeads, nKvHeads } = hp;
  const kvDim = nKvHeads * headDim;
  const headsPerKv = nHeads / nKvHeads;
  const attnScale = 1 / Math.sqrt(headDim);

  // Residual stream per position.
  const xs = tokens.map((t) => {
    if (!Number.isInteger(t) || t < 0 || t >= hp.vocab) throw new Error(`llamaForward: token ${t} outside the vocabulary of ${hp.vocab}`);
    return w.tokenEmbd.slice(t * dim, (t + 1) * dim);
  });

  for (const layer of w.layers) {
    const keys: Float64Array[] = [];
    const values: Float64Array[] = [];
    const queries: Float64Array[] = [];
    for (let pos = 0; pos < xs.length; pos++) {
      const h = rmsNorm(xs[pos], layer.attnNorm, hp.normEps);
      const q = matVec(layer.wq, h, nHeads * headDim);
      const k = matVec(layer.wk, h, kvDim);
      applyRope(q, nHeads, pos, hp, w.ropeFreqs);
      applyRope(k, nKvHeads, pos, hp, w.ropeFreqs);
      queries.push(q);
      keys.push(k);
      values.push(matVec(layer.wv, h, kvDim));
    }
    for (let pos = 0; pos < xs.length; pos++) {
      const attended = new Float64Array(nHeads * headDim);
      for (let head = 0; head < nHeads; head++) {
        const kvHead = Math.floor(head / headsPerKv);
        const scores = new Float64Array(pos + 1);
        for (let j = 0; j <= pos; j++) {
          let dot = 0;
          for (let d = 0; d < headDim; d++) dot += queries[pos][head * headDim + d] * keys[j][kvHead * headDim + d];
          scores[j] = dot * attnScale;
        }
        const weights = softmax(scores);
        for (let j = 0; j <= pos; j++) {
          for (let d = 0; d < headDim; d++) attended[head * headDim + d] += weights[j] * values[j][kvHead * headDim + d];
        }
      }
      const out = matVec(layer.wo, attended, dim);
      for (let i = 0; i < dim; i++) xs[pos][i] += out[i];
    }
    for (let pos = 0; pos < xs.length; pos++) {
      const h = rmsNorm(xs[pos], layer.ffnNorm, hp.normEps);
      const gate = matVec(layer.wGate, h, hp.ffnDim);
      const up = matVec(layer.wUp, h, hp.ffnDim);
      const act = gate.map((g, i) => silu(g) * up[i]);
      const down = matVec(layer.wDown, act, dim);
      for (let i = 0; i < dim; i++) xs[pos][i] += down[i];
    }
  }

  const output = w.output ?? w.tokenEmbd;
  return xs.map((x) => matVec(output, rmsNorm(x, w.outputNorm, hp.normEps), hp.vocab));
}

/** Collects Llama weights by their GGUF tensor names from `tensor(name)` (undefined when absent). */
export function llamaWeightsByName(hp: LlamaHyperParams, tensor: (name: string) => Float64Array | undefined): LlamaWeights {
  const need = (name: string, length: number): Float64Array => {
    const t = tensor(name);
    if (!t) throw new Error(`llama weights: tensor "${name}" is missing`);
    if (t.length !== length) throw new Error(`llama weights: tensor "${name}" has ${t.length} values, expected ${length}`);
    return t;
  };
  const { dim, vocab, ffnDim } = hp;
  const qDim = hp.nHeads * hp.headDim;
  const kvDim = hp.nKvHeads * hp.headDim;
  const output = tensor("output.weight");
  if (output && output.length !== vocab * dim) throw new Error(`llama weights: tensor "output.weight" has ${output.length} values, expected ${vocab * dim}`);
  const ropeFreqs = tensor("rope_freqs.weight");
  const layers: LlamaLayerWeights[] = [];
  for (let l = 0; l < hp.nLayers; l++) {
    const b = `blk.${l}`;
    layers.push({
      attnNorm: need(`${b}.attn_norm.weight`, dim),
      wq: need(`${b}.attn_q.weight`, qDim * dim),
      wk: need(`${b}.attn_k.weight`, kvDim * dim),
      wv: need(`${b}.attn_v.weight`, kvDim * dim),
      wo: need(`${b}.attn_output.weight`, dim * qDim),
      ffnNorm: need(`${b}.ffn_norm.weight`, dim),
      wGate: need(`${b}.ffn_gate.weight`, ffnDim * dim),
      wUp: need(`${b}.ffn_up.weight`, ffnDim * dim),
      wDown: need(`${b}.ffn_down.weight`, dim * ffnDim),
    });
  }
  return {
    tokenEmbd: need("token_embd.weight", vocab * dim),
    outputNorm: need("output_norm.weight", dim),
    output,
    ropeFreqs: ropeFreqs ? need("rope_freqs.weight", hp.ropeDim / 2) : undefined,
    layers,
  };
}
