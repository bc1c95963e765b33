/**
 * The typed node API: `defineNode` infers what `run()` receives and must return from the spec, so a
 * misspelled input or a missing output does not compile. At run time both helpers return their
 * argument unchanged: a node is still a plain object, and a plain-JavaScript node works without them.
 */
import type { InputSpec, NodeContext, NodeDefinition, NodePack, OutputSpec } from './types.ts';

/**
 * What flows through each socket type, for `run()`'s parameter and result types. Node packs add their
 * own by declaration merging:
 *
 *     declare module '@diffgraph/engine' {
 *       interface SocketTypes { LATENT: Tensor; GUIDER: Guider }
 *     }
 *
 * A socket type no pack declares reaches `run()` as `unknown`.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface SocketTypes {}

/**
 * A JSON input whose literal `run()` receives as `T`: for inputs whose `schema` pins the shape down
 * (validation checks it before any node runs). Optional without a default: `T | undefined`. The
 * `~jsonValue` key is type-level only (never set); a string key, not a unique symbol, so a pack's
 * emitted declarations can name the specs that carry it.
 */
export type JsonInputSpec<T> = InputSpec & { type: 'JSON'; readonly ['~jsonValue']?: T };

type JsonSpecFields<T> = Omit<InputSpec, 'type' | 'default' | 'optional'> & { default?: T };

export function jsonInput<T>(spec: JsonSpecFields<T> & { optional: true; default?: undefined }): JsonInputSpec<T> & { optional: true };
export function jsonInput<T>(spec?: JsonSpecFields<T> & { optional?: boolean }): JsonInputSpec<T>;
export function jsonInput<T>(spec: JsonSpecFields<T> & { optional?: boolean } = {}): JsonInputSpec<T> {
  return { type: 'JSON', ...spec };
}

/** The value a socket or primitive type carries. */
export type ValueOfType<T extends string> =
  T extends 'INT' | 'FLOAT' ? number
  : T extends 'STRING' ? string
  : T extends 'BOOLEAN' ? boolean
  : T extends 'JSON' ? unknown
  : T extends keyof SocketTypes ? SocketTypes[T]
  : unknown;

/** The value one input spec delivers, before optionality. */
type ValueOfInput<S extends InputSpec> =
  S extends { readonly ['~jsonValue']?: infer J } ? (unknown extends J ? ValueOfType<S['type']> : J)
  : S extends { type: 'STRING'; enum: readonly (infer E extends string)[] } ? E
  : ValueOfType<S['type']>;

/** Optional inputs without a default may be absent; every other input is always present. */
type MayBeAbsent<S extends InputSpec> = S extends { optional: true } ? (S extends { default: unknown } ? false : true) : false;

export type InputsOf<I extends Record<string, InputSpec>> = {
  readonly [K in keyof I]: MayBeAbsent<I[K]> extends true ? ValueOfInput<I[K]> | undefined : ValueOfInput<I[K]>;
};

export type OutputsOf<O extends Record<string, OutputSpec>> = {
  [K in keyof O]: ValueOfType<O[K]['type']>;
};

/** A node definition whose `run()` is typed from its own `inputs` and `outputs`. */
export interface TypedNodeDefinition<I extends Record<string, InputSpec>, O extends Record<string, OutputSpec>>
  extends Omit<NodeDefinition, 'inputs' | 'outputs' | 'run'> {
  inputs: I;
  outputs: O;
  run(inputs: InputsOf<I>, ctx: NodeContext): OutputsOf<O> | Promise<OutputsOf<O>>;
}

/** Identity at run time; at compile time, types `run()` from the spec (see SocketTypes). */
export function defineNode<const I extends Record<string, InputSpec>, const O extends Record<string, OutputSpec>>(
  def: TypedNodeDefinition<I, O>,
): TypedNodeDefinition<I, O> & NodeDefinition {
  return def as TypedNodeDefinition<I, O> & NodeDefinition;
}

/** Identity at run time: keeps the literal types of an inputs record shared by several nodes. */
export function defineInputs<const I extends Record<string, InputSpec>>(inputs: I): I {
  return inputs;
}

/** Identity at run time: a node pack, as registries and plugin loaders take it. */
export function definePack(pack: NodePack): NodePack {
  return pack;
}
