/**
 * One .onnx network with a small sidecar JSON (for models that are not a diffusers pipeline):
 *
 *   { "parameterization": "eps" | "v" | "x0" | "flow",
 *     "schedule": { "kind": "discrete", "betaSchedule": "scaled_linear" }   (a NoiseScheduleSpec),
 *     "sample_shape": [2],                                                  (one item, no batch axis)
 *     "inputs": { "sample": "x", "timestep": "t", "context": null },        (optional; diffusers names by default)
 *     "output": "out" }                                                     (optional; default out_sample)
 *
 * The sidecar defaults to the model's name with .json instead of .onnx.
 */
import path from 'node:path';
import type { ModelStore } from '../../runtime/model-store.ts';
import { makeNoiseSchedule, type NoiseScheduleSpec } from '../../schedules/noise-schedules.ts';
import { readJson, type Json } from './config-files.ts';
import { PARAMETERIZATIONS, type Parameterization } from '../../contracts/parameterization.ts';
import { createUnetModel, DIFFUSERS_UNET_NAMES, type OnnxDiffusionModel, type UnetIoNames } from './unet.ts';

function fail(file: string, message: string): never {
  throw new Error(`${file}: ${message}`);
}

function ioNames(sidecar: Json, file: string): UnetIoNames {
  const inputs = (sidecar.inputs ?? {}) as Json;
  const str = (v: unknown, key: string, fallback: string) => {
    if (v === undefined) return fallback;
    if (typeof v !== 'string' || v === '') fail(file, `"${key}" must be an input/output name`);
    return v;
  };
  const context = inputs.context === null ? null : str(inputs.context, 'inputs.context', DIFFUSERS_UNET_NAMES.context!);
  return {
    sample: str(inputs.sample, 'inputs.sample', DIFFUSERS_UNET_NAMES.sample),
    timestep: str(inputs.timestep, 'inputs.timestep', DIFFUSERS_UNET_NAMES.timestep),
    context,
    output: str(sidecar.output, 'output', DIFFUSERS_UNET_NAMES.output),
  };
}

export async function loadOnnxModel(store: ModelStore, name: string, sidecarName: string, log?: (m: string) => void): Promise<OnnxDiffusionModel> {
  const file = store.resolve(name, 'ONNX model');
  const sidecarFile = store.resolve(sidecarName || path.join(path.dirname(name), `${path.basename(name, '.onnx')}.json`), 'model sidecar');
  const sidecar = readJson(store.roots, sidecarFile, `LoadOnnxModel "${name}"`);
  const parameterization = sidecar.parameterization as Parameterization;
  if (!PARAMETERIZATIONS.includes(parameterization)) fail(sidecarFile, `"parameterization" must be one of ${PARAMETERIZATIONS.join(', ')}, found ${JSON.stringify(sidecar.parameterization)}`);
  if (typeof sidecar.schedule !== 'object' || sidecar.schedule === null) fail(sidecarFile, '"schedule" must be a schedule spec such as {"kind": "discrete", "betaSchedule": "scaled_linear"}');
  let schedule;
  try {
    schedule = makeNoiseSchedule(sidecar.schedule as NoiseScheduleSpec);
  } catch (e) {
    fail(sidecarFile, `"schedule": ${(e as Error).message}`);
  }
  const shape = sidecar.sample_shape;
  if (shape !== undefined && !(Array.isArray(shape) && shape.length > 0 && shape.every((d) => Number.isInteger(d) && d > 0))) {
    fail(sidecarFile, '"sample_shape" must be a list of positive integers (one item, without the batch axis)');
  }
  const session = await store.open(file, log);
  return createUnetModel({
    name,
    session,
    schedule,
    parameterization,
    names: ioNames(sidecar, sidecarFile),
    configSampleShape: shape as number[] | undefined,
    sampleRank: (shape as number[] | undefined)?.length,
    info: { sidecar: sidecarFile },
  });
}
