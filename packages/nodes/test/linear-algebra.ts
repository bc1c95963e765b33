/** Test helpers for linear operators: a dense solve for exact answers, and the adjoint identity check. */
import { expect } from 'vitest';
import { dot, type Tensor } from '@diffgraph/engine';
import { randomNormal } from '../src/noise/philox.ts';

interface Adjointable {
  forward(x: Tensor): Tensor;
  adjoint(r: Tensor, inputShape: readonly number[]): Tensor;
  outputShape(shape: readonly number[]): number[];
}

/** Solves M x = b by Gauss–Jordan elimination with partial pivoting (small dense systems). */
export function solveDense(M: number[][], b: number[]): number[] {
  const n = b.length;
  const a = M.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r][c]) > Math.abs(a[p][c])) p = r;
    [a[c], a[p]] = [a[p], a[c]];
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = a[r][c] / a[c][c];
      for (let k = c; k <= n; k++) a[r][k] -= f * a[c][k];
    }
  }
  return a.map((row, i) => row[n] / row[i]);
}

/** ⟨Ax, r⟩ = ⟨x, Aᵀr⟩ on random x and r, with the shapes A promises; returns Aᵀr and r for further checks. */
export function expectAdjointIdentity(A: Adjointable, shape: number[]): { atr: Tensor; r: Tensor } {
  const x = randomNormal(shape, 11, 'float64');
  const r = randomNormal(A.outputShape(shape), 12, 'float64');
  const ax = A.forward(x);
  expect(ax.shape).toEqual(A.outputShape(shape));
  const atr = A.adjoint(r, shape);
  expect(atr.shape).toEqual(shape);
  const lhs = dot(ax, r), rhs = dot(x, atr);
  expect(Math.abs(lhs - rhs)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(lhs)));
  return { atr, r };
}
