/**
 * diffusers' `prediction_type` names → our Parameterization (the conversion to x0 itself lives in
 * contracts/parameterization.ts, shared with every other model wrapper).
 */
import type { Parameterization } from '../../contracts/parameterization.ts';

export function parameterizationOf(predictionType: string, file: string): Parameterization {
  switch (predictionType) {
    case 'epsilon':
    case 'eps':
      return 'eps';
    case 'v_prediction':
    case 'v':
      return 'v';
    case 'sample':
    case 'x0':
      return 'x0';
    case 'flow':
    case 'flow_prediction':
      return 'flow';
    default:
      throw new Error(`${file}: unknown prediction_type "${predictionType}" (expected epsilon, v_prediction, sample or flow)`);
  }
}
