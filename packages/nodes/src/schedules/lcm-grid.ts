/**
 * diffusers' LCMScheduler.set_timesteps (the standard schedule, strength 1): a latent consistency model
 * is distilled on a skipping grid of `original` steps, k = N // original apart (timesteps k·j − 1 for
 * j = 1 … original), and samples on `steps` of those, taken at evenly spaced indices
 * floor(linspace(0, original, steps, endpoint = False)) of the decreasing grid.
 * E.g. N = 1000, original 50, 4 steps: k = 20, indices 0, 12, 25, 37 → 999, 759, 499, 259.
 */
export function lcmTimesteps(numTrainTimesteps: number, original: number, steps: number): number[] {
  if (!Number.isInteger(original) || original < 1) throw new RangeError(`LCMScheduler: original_inference_steps must be a positive integer, got ${original}`);
  if (original > numTrainTimesteps) throw new RangeError(`LCMScheduler: original_inference_steps ${original} exceeds the ${numTrainTimesteps} training steps`);
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`steps must be a positive integer, got ${steps}`);
  if (steps > original) throw new RangeError(`LCMScheduler: ${steps} steps exceed original_inference_steps ${original} (the grid is a subset of the distillation grid)`);
  const k = Math.floor(numTrainTimesteps / original);
  // The distillation grid, decreasing: entry i is k·(original − i) − 1.
  const atIndex = (i: number) => k * (original - i) - 1;
  // numpy's linspace(endpoint=False) is j·(original/steps), in that order of operations.
  const spacing = original / steps;
  return Array.from({ length: steps }, (_, j) => atIndex(Math.floor(j * spacing)));
}
