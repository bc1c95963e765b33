/**
 * Which onnxruntime execution provider to ask for. onnxruntime-node bundles only the CPU provider; the
 * CUDA one is downloaded by its install script (ONNXRUNTIME_NODE_INSTALL=cuda12) next to the binding.
 * We look for those files instead of trying CUDA blindly, because a failed attempt prints a native
 * error to stderr on every session.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

export type ProviderChoice = 'auto' | 'cuda' | 'cpu';

const CUDA_LIBRARIES: Record<string, string[]> = {
  linux: ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'],
  win32: ['onnxruntime_providers_shared.dll', 'onnxruntime_providers_cuda.dll'],
};

/** The folder that holds the native binding (where the install script puts provider libraries). */
export function ortBinaryFolder(): string {
  const require = createRequire(import.meta.url);
  const pkg = path.dirname(require.resolve('onnxruntime-node/package.json'));
  return path.join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
}

export function cudaProviderInstalled(): boolean {
  const libs = CUDA_LIBRARIES[process.platform];
  if (!libs) return false;
  const folder = ortBinaryFolder();
  return libs.every((lib) => existsSync(path.join(folder, lib)));
}

export interface ProviderPlan {
  providers: ('cuda' | 'cpu')[];
  /** One line for the log: what was chosen and why. */
  notice: string;
}

export function planProviders(choice: ProviderChoice): ProviderPlan {
  if (choice === 'cpu') return { providers: ['cpu'], notice: 'onnxruntime: running on CPU (execution provider "cpu" requested)' };
  const cuda = cudaProviderInstalled();
  if (cuda) return { providers: ['cuda', 'cpu'], notice: 'onnxruntime: using the CUDA execution provider (CPU for unsupported ops)' };
  const how = 'install it with ONNXRUNTIME_NODE_INSTALL=cuda12 and the onnxruntime-node install script';
  if (choice === 'cuda') throw new Error(`onnxruntime: the CUDA execution provider was requested but is not installed (${how})`);
  return { providers: ['cpu'], notice: `onnxruntime: CUDA execution provider not installed, falling back to CPU (${how})` };
}
