/**
 * The two optimisers of the schedule search, over points of unconstrained real parameters and, where
 * asked, discrete genes (each one of a few choices: a step's solver order):
 * - `evolve`: AutoDiffusion's evolutionary search (population, elitism, per-position crossover,
 *   mutation, fresh random candidates), carried from its discrete step sets over to real parameters;
 *   a mutation resamples a gene, a crossover mixes genes as it mixes parameters;
 * - `patternSearch`: a compass search (try ±step on each coordinate, then ±1 choice on each gene; halve
 *   the step when none helps), the local refinement after it.
 * Both minimise an async objective, never evaluate more than they are allotted, and keep the best point
 * seen, so the result is never worse than the start. Without genes they make exactly the random draws
 * and evaluations they made before genes existed, so a time-only search is unchanged.
 */
import { makeRng } from '../tpm/rng.ts';

export interface Point {
  theta: number[];
  /** Discrete genes (empty when none are searched); each one of EvolutionOptions.choices. */
  genes: number[];
}

export type Objective = (point: Readonly<Point>) => Promise<number>;

export interface Scored extends Point {
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
  /** The values a gene may take (needed when the start has genes). */
  choices?: readonly number[];
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
 * points (a tenth) and mutated elites (the rest). A random point draws its genes uniformly.
 */
export async function evolve(start: Readonly<Point>, objective: Objective, o: EvolutionOptions): Promise<Scored> {
  const rng = makeRng(o.seed);
  const scale0 = o.mutationScale ?? 0.6;
  const decay = o.mutationDecay ?? 0.8;
  const probability = o.mutationProbability ?? 0.35;
  const choices = o.choices ?? [];
  if (start.genes.length > 0 && choices.length < 2) throw new Error('evolve: genes need at least two choices');
  const score = async (p: Point): Promise<Scored> => ({ ...p, fitness: await objective(p) });
  const anyChoice = () => choices[Math.floor(rng.uniform() * choices.length)];
  /** Another choice than `current` (a mutation that draws the same gene would not move it). */
  const otherChoice = (current: number) => {
    const others = choices.filter((c) => c !== current);
    return others[Math.floor(rng.uniform() * others.length)];
  };
  const randomAround = (): Point => ({ theta: start.theta.map((v) => v + rng.normal()), genes: start.genes.map(anyChoice) });
  const mutate = (p: Readonly<Point>, scale: number): Point => {
    const n = p.theta.length;
    const forced = Math.floor(rng.uniform() * (n + p.genes.length));
    return {
      theta: p.theta.map((v, i) => (i === forced || rng.uniform() < probability ? v + scale * rng.normal() : v)),
      genes: p.genes.map((g, j) => (n + j === forced || rng.uniform() < probability ? otherChoice(g) : g)),
    };
  };
  const crossover = (a: Readonly<Point>, b: Readonly<Point>): Point => ({
    theta: a.theta.map((v, i) => (rng.uniform() < 0.5 ? v : b.theta[i])),
    genes: a.genes.map((g, j) => (rng.uniform() < 0.5 ? g : b.genes[j])),
  });

  let population: Scored[] = [await score({ theta: [...start.theta], genes: [...start.genes] })];
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
      children.push(await score(parents.length > 1 ? crossover(pick(), pick()) : mutate(pick(), scale)));
    }
    for (let i = 0; i < randoms && children.length < o.population - elites; i++) children.push(await score(randomAround()));
    while (children.length < o.population - elites) children.push(await score(mutate(pick(), scale)));
    population = [...parents, ...children].sort(sortByFitness);
  }
  return population[0];
}

export interface PatternSearchOptions {
  maxEvaluations: number;
  initialStep?: number;
  minStep?: number;
  /** The values a gene may take, in order: a gene moves to its neighbouring choices. */
  choices?: readonly number[];
}

/**
 * Compass search from a scored point; at most `maxEvaluations` objective calls. A sweep tries ±step on
 * each parameter, then the neighbouring choices of each gene; the step halves after a sweep without
 * an improvement (the genes have no step, so they stop the search no sooner).
 */
export async function patternSearch(start: Scored, objective: Objective, o: PatternSearchOptions): Promise<Scored & { evaluations: number }> {
  let best: Scored = { theta: [...start.theta], genes: [...start.genes], fitness: start.fitness };
  let step = o.initialStep ?? 0.25;
  const minStep = o.minStep ?? 1e-3;
  const choices = o.choices ?? [];
  let evaluations = 0;
  /** Evaluates a move; true when it improved on the best point (which it then becomes). */
  const tryPoint = async (point: Point): Promise<boolean> => {
    const fitness = await objective(point);
    evaluations++;
    if (!(fitness < best.fitness)) return false;
    best = { ...point, fitness };
    return true;
  };
  while (evaluations < o.maxEvaluations && step >= minStep) {
    let improved = false;
    for (let i = 0; i < best.theta.length && evaluations < o.maxEvaluations; i++) {
      for (const direction of [1, -1]) {
        if (evaluations >= o.maxEvaluations) break;
        const theta = [...best.theta];
        theta[i] += direction * step;
        if (await tryPoint({ theta, genes: best.genes })) {
          improved = true;
          break;
        }
      }
    }
    for (let j = 0; j < best.genes.length && evaluations < o.maxEvaluations; j++) {
      const at = choices.indexOf(best.genes[j]);
      for (const neighbour of [choices[at + 1], choices[at - 1]]) {
        if (evaluations >= o.maxEvaluations) break;
        if (neighbour === undefined || at < 0) continue;
        const genes = [...best.genes];
        genes[j] = neighbour;
        if (await tryPoint({ theta: best.theta, genes })) {
          improved = true;
          break;
        }
      }
    }
    if (!improved) step /= 2;
  }
  return { ...best, evaluations };
}
