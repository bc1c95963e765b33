/**
 * The two optimisers of the schedule search, over unconstrained parameter vectors:
 * - `evolve`: AutoDiffusion's evolutionary search (population, elitism, per-position crossover,
 *   mutation, fresh random candidates), carried from its discrete step sets over to real parameters;
 * - `patternSearch`: a compass search (try ±step on each coordinate, halve the step when none helps),
 *   the local refinement after it.
 * Both minimise an async objective, never evaluate more than they are allotted, and keep the best point
 * seen, so the result is never worse than the start.
 */
import { makeRng } from '../tpm/rng.ts';

export type Objective = (theta: readonly number[]) => Promise<number>;

export interface Scored {
  theta: number[];
  fitness: number;
}

export interface EvolutionOptions {
  population: number;
  generations: number;
  seed: number;
  /** Mutation size in the parameters at the first generation (shrinks by `mutationDecay` each one). */
  mutationScale?: number;
  mutationDecay?: number;
  /** Probability that a mutation moves each coordinate (at least one always moves). */
  mutationProbability?: number;
}

/** Evaluations `evolve` makes: the initial population, then population − elites per generation. */
export function evolutionEvaluations(o: Pick<EvolutionOptions, 'population' | 'generations'>): number {
  return o.population + o.generations * (o.population - eliteCount(o.population));
}

function eliteCount(population: number): number {
  return Math.max(1, Math.round(population / 4));
}

const sortByFitness = (a: Scored, b: Scored) => a.fitness - b.fitness;

/**
 * Starts from `start` (kept in the population), mutations of it and random points around it; each
 * generation keeps the best quarter, and refills with crossovers of two elites (a quarter), fresh random
 * points (a tenth) and mutated elites (the rest).
 */
export async function evolve(start: readonly number[], objective: Objective, o: EvolutionOptions): Promise<Scored> {
  const rng = makeRng(o.seed);
  const scale0 = o.mutationScale ?? 0.6;
  const decay = o.mutationDecay ?? 0.8;
  const probability = o.mutationProbability ?? 0.35;
  const score = async (theta: number[]): Promise<Scored> => ({ theta, fitness: await objective(theta) });
  const randomAround = (): number[] => start.map((v) => v + rng.normal());
  const mutate = (theta: readonly number[], scale: number): number[] => {
    const forced = Math.floor(rng.uniform() * theta.length);
    return theta.map((v, i) => (i === forced || rng.uniform() < probability ? v + scale * rng.normal() : v));
  };
  const crossover = (a: readonly number[], b: readonly number[]): number[] => a.map((v, i) => (rng.uniform() < 0.5 ? v : b[i]));

  let population: Scored[] = [await score([...start])];
  const initialMutations = Math.floor((o.population - 1) / 2);
  for (let i = 0; i < initialMutations; i++) population.push(await score(mutate(start, scale0)));
  while (population.length < o.population) population.push(await score(randomAround()));
  population.sort(sortByFitness);

  const elites = eliteCount(o.population);
  const crossovers = Math.round(o.population / 4);
  const randoms = Math.round(o.population / 10);
  for (let g = 1; g <= o.generations; g++) {
    const scale = scale0 * decay ** g;
    const parents = population.slice(0, elites);
    const children: Scored[] = [];
    const pick = (): Scored => parents[Math.floor(rng.uniform() * parents.length)];
    for (let i = 0; i < crossovers && children.length < o.population - elites; i++) {
      children.push(await score(parents.length > 1 ? crossover(pick().theta, pick().theta) : mutate(pick().theta, scale)));
    }
    for (let i = 0; i < randoms && children.length < o.population - elites; i++) children.push(await score(randomAround()));
    while (children.length < o.population - elites) children.push(await score(mutate(pick().theta, scale)));
    population = [...parents, ...children].sort(sortByFitness);
  }
  return population[0];
}

export interface PatternSearchOptions {
  maxEvaluations: number;
  initialStep?: number;
  minStep?: number;
}

/** Compass search from a scored point; at most `maxEvaluations` objective calls. */
export async function patternSearch(start: Scored, objective: Objective, o: PatternSearchOptions): Promise<Scored & { evaluations: number }> {
  let best: Scored = { theta: [...start.theta], fitness: start.fitness };
  let step = o.initialStep ?? 0.25;
  const minStep = o.minStep ?? 1e-3;
  let evaluations = 0;
  while (evaluations < o.maxEvaluations && step >= minStep) {
    let improved = false;
    for (let i = 0; i < best.theta.length && evaluations < o.maxEvaluations; i++) {
      for (const direction of [1, -1]) {
        if (evaluations >= o.maxEvaluations) break;
        const theta = [...best.theta];
        theta[i] += direction * step;
        const fitness = await objective(theta);
        evaluations++;
        if (fitness < best.fitness) {
          best = { theta, fitness };
          improved = true;
          break;
        }
      }
    }
    if (!improved) step /= 2;
  }
  return { ...best, evaluations };
}
