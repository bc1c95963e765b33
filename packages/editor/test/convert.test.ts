/**
 * The editor's graph ↔ diffgraph/workflow@1 conversion, through the real litegraph graph (litegraph
 * runs without a DOM): every workflow in workflows/ survives a round trip unchanged, and edits made
 * through the graph come out as named inputs and links.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { LGraph, LiteGraph } from '@comfyorg/litegraph';
import type { Workflow } from '@diffgraph/engine';
import { createRegistry } from '@diffgraph/nodes';
import { Catalog, widgetKind } from '../src/catalog.ts';
import { freshId, installOutputBookkeeping, loadWorkflow, toWorkflow } from '../src/graph/convert.ts';
import { registerNodeTypes, widgetOf } from '../src/graph/nodes.ts';

const dir = fileURLToPath(new URL('../../../workflows/', import.meta.url));
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

let catalog: Catalog;

beforeAll(() => {
  const registry = createRegistry();
  catalog = new Catalog({ nodes: registry.list().map(({ run: _run, ...def }) => def) });
  registerNodeTypes(catalog);
});

function roundTrip(workflow: Workflow): Workflow {
  const graph = new LGraph();
  installOutputBookkeeping(graph, catalog);
  loadWorkflow(graph, structuredClone(workflow), catalog);
  return toWorkflow(graph, catalog);
}

describe('workflow ↔ graph', () => {
  it('there are workflows to check', () => expect(files.length).toBeGreaterThan(0));

  it.each(files)('%s round-trips losslessly', (file) => {
    const workflow = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Workflow;
    const once = roundTrip(workflow);
    expect(once).toEqual(workflow);
    expect(roundTrip(once)).toEqual(workflow);
  });

  it('keeps what it cannot show: unknown types and inputs, bad links, out-of-range and mistyped literals, no ui', () => {
    const workflow = {
      format: 'diffgraph/workflow@1',
      nodes: {
        weird: { type: 'NoSuchNode', inputs: { a: 1, b: { from: 'noise', output: 'noise' } } },
        noise: { type: 'RandomNoise', inputs: { seed: -5, pth: 'x' } },
        solver: { type: 'Solver' },
        sched: { type: 'Schedule', inputs: { model: { from: 'ghost', output: 'model' }, steps: 'many', times: [1, 0.5, 0], spacing: 'nope' } },
        save: { type: 'SaveTensor', inputs: { tensor: { from: 'solver', output: 'solver' }, filename: 'x' } },
        wf: { type: 'SaveImage', inputs: { images: 3, parameters: { a: [1, { b: null }] } } },
      },
      outputs: ['save', 'missing'],
      meta: { title: 't', extra: { deep: [1, 2] } },
    } as unknown as Workflow;
    expect(roundTrip(workflow)).toEqual(workflow);
  });

  it('writes edits as named inputs and links, positions in ui, and leaves defaults out', () => {
    const graph = new LGraph();
    installOutputBookkeeping(graph, catalog);
    loadWorkflow(graph, { format: 'diffgraph/workflow@1', nodes: {}, ui: {} } as Workflow, catalog);
    const add = (type: string, x: number) => {
      const node = LiteGraph.createNode(type)!;
      node.title = freshId(graph, type);
      node.pos = [x, 10];
      graph.add(node);
      return node;
    };
    const model = add('GaussianMixtureModel', 0);
    const schedule = add('Schedule', 300);
    const schedule2 = add('Schedule', 300);
    expect([model.title, schedule.title, schedule2.title]).toEqual(['gaussian_mixture_model', 'schedule', 'schedule_2']);
    model.connect(0, schedule, schedule.findInputSlot('model'));
    const steps = widgetOf(schedule, 'steps')!;
    // A user edit goes through setValue (clamped to max 1000).
    (steps as any).setValue(5000, { e: {}, node: schedule, canvas: { graph_mouse: [0, 0] } });
    const wf = toWorkflow(graph, catalog);
    expect(wf.nodes.schedule).toEqual({ type: 'Schedule', inputs: { model: { from: 'gaussian_mixture_model', output: 'model' }, steps: 1000 } });
    expect(wf.nodes.schedule_2).toEqual({ type: 'Schedule', inputs: {} });
    expect((wf.ui as any).positions.schedule).toEqual([300, 10]);
    // Incompatible sockets refuse to connect (MODEL output → SIGMAS input of Sample).
    const sample = add('Sample', 600);
    expect(model.connect(0, sample, sample.findInputSlot('sigmas'))).toBeNull();
    expect(schedule.connect(0, sample, sample.findInputSlot('sigmas'))).not.toBeNull();
  });

  it('a loader\'s path is free text when the server lists no models, and a list of what that loader opens otherwise', () => {
    // This file's catalog has no models (as when GET /api/models is unavailable or empty).
    const pipeline = LiteGraph.createNode('LoadPipeline')!;
    expect(widgetOf(pipeline, 'path')!.type).toBe('text');
    expect(widgetKind(catalog.get('LoadOnnxModel')!.inputs.path!)).toBe('model');
    // A sidecar is a file in the model roots too, but not a model the catalog lists.
    expect(widgetKind(catalog.get('LoadOnnxModel')!.inputs.config!)).toBe('text');
    const listed = new Catalog({
      nodes: catalog.nodes,
      models: [{ name: 'sd15', kind: 'pipeline', loader: 'LoadPipeline' }, { name: 'sd15/classifier', kind: 'classifier', loader: 'LoadClassifier' }, { name: 'loose.onnx', kind: 'onnx', loader: null }],
    });
    expect(listed.modelChoices('LoadPipeline')).toEqual(['sd15']);
    expect(listed.modelChoices('LoadClassifier')).toEqual(['sd15/classifier']);
    expect(listed.modelChoices('LoadOnnxModel')).toEqual([]);
  });

  it('a seed control comes with the role seed, whatever the input is called', () => {
    const base = { category: 'test', description: 'd', version: 1, outputs: {} };
    const own = new Catalog({
      nodes: [...catalog.nodes, { ...base, type: 'RoleSeeds', inputs: { noise_key: { type: 'INT', default: 0, role: 'seed' }, seed: { type: 'INT', default: 0 } } }],
    });
    registerNodeTypes(own);
    try {
      const node = LiteGraph.createNode('RoleSeeds')!;
      expect(widgetOf(node, 'noise_key control')?.type).toBe('combo');
      expect(widgetOf(node, 'seed control')).toBeUndefined();
    } finally {
      registerNodeTypes(catalog);
    }
    // The built-in seeds carry the role.
    expect(widgetOf(LiteGraph.createNode('RandomNoise')!, 'seed control')?.type).toBe('combo');
  });

  it('INT feeds FLOAT and LATENT feeds TENSOR, not the reverse of INT → FLOAT', () => {
    expect(catalog.isAssignable('INT', 'FLOAT')).toBe(true);
    expect(catalog.isAssignable('FLOAT', 'INT')).toBe(false);
    expect(LiteGraph.isValidConnection('LATENT', 'TENSOR,LATENT')).toBe(true);
    expect(LiteGraph.isValidConnection('MODEL', 'SIGMAS')).toBe(false);
  });
});
