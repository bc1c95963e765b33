/**
 * The built-in node pack. Its folders are layered: each imports only from itself and the folders
 * listed before it, so the sampling contracts every pack stands on never depend on the nodes that
 * use them (packages/nodes/test/layers.test.ts checks this line against every import):
 *
 * @layers contracts io runtime noise schedules image solvers encoders operators models guiders inverse tpm steering sampling search editing
 */
import { definePack, NodeRegistry } from '@diffgraph/engine';
import './contracts/socket-types.ts';
import { EmptyLatent, LoadTensor, SaveTensor } from './io/tensor-nodes.ts';
import { GaussianMixtureModel, MixtureComponents } from './models/gmm-node.ts';
import { DisableNoise, RandomNoise, TensorNoise } from './noise/noise-nodes.ts';
import { BasicGuider } from './guiders/basic-guider.ts';
import { Sample } from './sampling/sample-node.ts';
import { Schedule } from './schedules/schedule-node.ts';
import { SolverNode } from './solvers/solver-node.ts';
import { ModelStatisticsNode } from './solvers/model-statistics-node.ts';
import { LoadImage, PreviewImage, SaveImage } from './image/image-nodes.ts';
import { ImageToMask, LoadMask, MaskToImage } from './image/mask-nodes.ts';
import { ImageScale, MaskScale } from './image/scale-node.ts';
import { LatentPreview } from './image/latent-preview.ts';
import { InpaintGuider } from './sampling/inpaint-guider.ts';
import { InpaintComposite } from './sampling/inpaint-composite.ts';
import { LoadOnnxModel, LoadPipeline } from './models/onnx/model-nodes.ts';
import { TextEncode, VAEDecode, VAEEncode } from './models/onnx/encode-nodes.ts';
import { CFGGuider } from './guiders/cfg-guider.ts';
import { ComposableGuider } from './guiders/composable.ts';
import { RescaleGuidance } from './guiders/rescale.ts';
import { GuideAndRescale } from './guiders/guide-and-rescale.ts';
import { SwitchGuider } from './guiders/switch.ts';
import { ClassifierGuider } from './guiders/classifier-guider.ts';
import { MixtureClassifier } from './guiders/mixture-classifier.ts';
import { LoadClassifier } from './guiders/load-classifier.ts';
import { RewardPotential, SteeredSample } from './steering/nodes.ts';
import { LearnTPM, LoadTPM, TPMConstraint } from './tpm/tpm-nodes.ts';
import { Measure, MeasurementOperator } from './operators/operator-nodes.ts';
import { InverseProblemGuider, RedDiffSolver } from './inverse/inverse-nodes.ts';
import { MeasureVolume, RepeatSlices, VolumeOperatorNode } from './operators/volume-nodes.ts';
import { VolumeInverseGuider } from './inverse/volume-inverse-node.ts';
import { DDIMInversion, DPMEncode } from './encoders/encoder-nodes.ts';
import { MixtureConsistencyModel } from './sampling/consistency-model.ts';
import { DenoisingMCMC } from './sampling/denoising-mcmc-node.ts';
import { SearchSchedule } from './search/search-node.ts';
import { PixelMan } from './editing/pixelman.ts';
import { TALE } from './editing/tale.ts';
import { CyclicOneWay } from './editing/cyclic-one-way.ts';
import type { HostServices } from './runtime/host-services.ts';

export const corePack = definePack({
  name: 'diffgraph-core',
  nodes: [LoadTensor, SaveTensor, EmptyLatent, GaussianMixtureModel, MixtureComponents, RandomNoise, DisableNoise, TensorNoise, BasicGuider, Schedule, SolverNode, ModelStatisticsNode, Sample,
    LoadImage, SaveImage, PreviewImage, LoadMask, ImageToMask, MaskToImage, ImageScale, MaskScale, LatentPreview, InpaintGuider, InpaintComposite,
    LoadPipeline, LoadOnnxModel, TextEncode, VAEEncode, VAEDecode, CFGGuider,
    ComposableGuider, RescaleGuidance, GuideAndRescale, SwitchGuider, ClassifierGuider, MixtureClassifier, LoadClassifier, RewardPotential, SteeredSample,
    LearnTPM, LoadTPM, TPMConstraint, MeasurementOperator, Measure, InverseProblemGuider, RedDiffSolver, DDIMInversion, DPMEncode,
    VolumeOperatorNode, MeasureVolume, RepeatSlices, VolumeInverseGuider, MixtureConsistencyModel, DenoisingMCMC, SearchSchedule,
    PixelMan, TALE, CyclicOneWay],
});

/** A registry with every built-in pack, and the socket-type relations they rely on. */
export function createRegistry(): NodeRegistry<HostServices> {
  const registry = new NodeRegistry<HostServices>();
  registry.declareSubtype('LATENT', 'TENSOR');
  registry.declareSubtype('TENSOR', 'LATENT');
  // A per-slice 2-D operator is a (block-diagonal) operator on a volume as it is.
  registry.declareSubtype('OPERATOR', 'VOLUME_OPERATOR');
  registry.registerPack(corePack);
  return registry;
}

export type { HostServices } from './runtime/host-services.ts';
export * from './io/npy.ts';
export * from './io/tensor-json.ts';
export type * from './contracts/sampling.ts';
export { GaussianMixture } from './models/gmm.ts';
export { gaussianMixtureModel } from './models/gmm-node.ts';
export { makeNoiseSchedule } from './schedules/noise-schedules.ts';
export { buildGrid } from './schedules/schedule-node.ts';
export { makeSolver, SOLVER_KINDS } from './solvers/catalog.ts';
export { sample } from './sampling/sample-node.ts';
export { seededNoise, zeroNoise } from './noise/noise-nodes.ts';
export { basicGuider } from './guiders/basic-guider.ts';
export { decodePng, encodePng, type DecodedPng, type EncodeOptions } from './image/png.ts';
export { decodeImage, decodeRgba, imageFormat, MAX_IMAGE_PIXELS, type DecodedImage, type ImageFormat, type RgbaImage } from './image/decode-image.ts';
export { insertPngText, readPngText } from './image/png-chunks.ts';
export { previewPng, type PngPreview } from './image/image-nodes.ts';
export { latentPreviewHook, latentPreviewPng, latentToImage, DEFAULT_LATENT_RGB_BIAS, DEFAULT_LATENT_RGB_MATRIX } from './image/latent-preview.ts';
export { resize2d, type ResizeMethod } from './image/resize.ts';
export { inpaintGuider } from './sampling/inpaint-guider.ts';
export { inpaintComposite } from './sampling/inpaint-composite.ts';
export { ModelStore, type ModelStoreOptions } from './runtime/model-store.ts';
export { storeOf, type ModelServices } from './runtime/store-of.ts';
export { cudaProviderInstalled, planProviders, type ProviderChoice, type ProviderPlan } from './runtime/execution-providers.ts';
export { parseSessionOptions, sessionOptionsFor, type ModelSessionOptions, type SessionOptionsConfig } from './runtime/session-options.ts';
export { onnxGraphInputTypes } from './runtime/onnx-graph-inputs.ts';
export { modelCatalog, type CatalogEntry, type CatalogKind, type CatalogLayout } from './models/onnx/catalog.ts';
export { loadPipeline, type Pipeline } from './models/onnx/pipeline.ts';
export { loadOnnxModel } from './models/onnx/single-model.ts';
export { cfgGuider } from './guiders/cfg-guider.ts';
export { predictAll, composeX0 } from './guiders/batch.ts';
export { composableGuider, type ComposedCondition } from './guiders/composable.ts';
export { rescaleGuider, rescaleToReference } from './guiders/rescale.ts';
export { guideAndRescale, bandFactors } from './guiders/guide-and-rescale.ts';
export { switchGuider } from './guiders/switch.ts';
export { classifierGuider, classifierShift, type ClassifierGuidance } from './guiders/classifier-guider.ts';
export { calibratedWeights, parseTarget, type Classifier, type ClassifierHead } from './guiders/classifier.ts';
export { mixtureClassifier } from './guiders/mixture-classifier.ts';
export { loadClassifier, snrMatchedClassifier, sameSchedule, type LoadedClassifier } from './guiders/load-classifier.ts';
export { onnxClassifier, headsFromConfig, type TensorRunner } from './guiders/onnx-classifier.ts';
export { steeredSample, type SteerResult } from './steering/fk-sample.ts';
export type { Potential, Reward } from './contracts/potential.ts';
export { brightnessReward, classifierReward, colorReward, modelReward, onImages, targetDistanceReward } from './steering/rewards.ts';
export { isInside, realpathOfNearest, resolveInside } from './io/paths.ts';
export { TreeCircuit, type CircuitJSON, type Conditional } from './tpm/circuit.ts';
export type { Evidence } from './tpm/evidence.ts';
export { learnCircuit, type LearnOptions } from './tpm/learn.ts';
export { patchGroups } from './tpm/groups.ts';
export { tpmConstraint } from './tpm/tpm-constraint.ts';
export { saveCircuit, loadCircuit } from './tpm/tpm-nodes.ts';
export type { LinearOperator } from './operators/operator.ts';
export { makeOperator, measure } from './operators/operator-nodes.ts';
export { dpsGuider } from './inverse/dps.ts';
export { flowChefGuider } from './inverse/flowchef.ts';
export { redDiff, redDiffSolver } from './inverse/red-diff.ts';
export { composeOperators, forDepth, gaussianTaps, sliceWise, zAveragePool, zConvolution, zDifference, zProjection, type VolumeOperator } from './operators/volume-operator.ts';
export { makeVolumeOperator, repeatSlices } from './operators/volume-nodes.ts';
export { volumeInverseGuider, type VolumeInverseOptions } from './inverse/volume-guider.ts';
export { dpmEncode, type DpmEncoding } from './encoders/dpm-encode.ts';
export { ddimInvert } from './encoders/ddim-inversion.ts';
export { replayNoise } from './noise/replay-noise.ts';
export { searchSchedule, SEARCHED_SPACING, type ScheduleSearchReport, type ScheduleSearchRequest, type ScheduleSearchSettings } from './search/schedule-search.ts';
