import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeNpy } from '@diffgraph/nodes';

const bin = fileURLToPath(new URL('../bin/diffgraph.js', import.meta.url));

function cli(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd, env: { ...process.env, FORCE_COLOR: '0' } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
    });
  });
}

let dir: string;
const roundtrip = {
  format: 'diffgraph/workflow@1',
  nodes: {
    load: { type: 'LoadTensor', inputs: { path: 'x.json' } },
    save: { type: 'SaveTensor', inputs: { tensor: { from: 'load', output: 'tensor' }, filename: 'copy' } },
  },
};

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'diffgraph-cli-'));
  writeFileSync(path.join(dir, 'x.json'), JSON.stringify({ shape: [2, 2], dtype: 'float64', data: [1, 2, 3, 4] }));
  writeFileSync(path.join(dir, 'ok.json'), JSON.stringify(roundtrip));
  const broken = structuredClone(roundtrip) as any;
  broken.nodes.save.inputs.format = 'png';
  broken.nodes.save.inputs.tensor = { from: 'lod', output: 'tensor' };
  broken.nodes.load.inputs = { pth: 'x.json' };
  writeFileSync(path.join(dir, 'broken.json'), JSON.stringify(broken));
  writeFileSync(path.join(dir, 'garbage.json'), '{"format": "diffgraph/workflow@1", nodes');
});

describe('diffgraph CLI', () => {
  it('validate: exit 0 for a valid workflow', async () => {
    const r = await cli(['validate', 'ok.json'], dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('valid (outputs: save)');
  });

  it('validate: exit 1 listing every problem with its code, node and input', async () => {
    const r = await cli(['validate', 'broken.json'], dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/4 problems/);
    expect(r.stdout).toMatch(/UNKNOWN_INPUT\s+node "load", input "pth"/);
    expect(r.stdout).toMatch(/MISSING_INPUT\s+node "load", input "path"/);
    expect(r.stdout).toMatch(/LINK_MISSING_NODE\s+node "save", input "tensor".*Did you mean "load"/);
    expect(r.stdout).toMatch(/NOT_IN_ENUM\s+node "save", input "format"/);
    const json = JSON.parse((await cli(['validate', 'broken.json', '--json'], dir)).stdout);
    expect(json.valid).toBe(false);
    expect(json.errors).toHaveLength(4);
  });

  it('validate: exit 1 for broken JSON, exit 2 for a missing file, never a stack trace', async () => {
    const garbage = await cli(['validate', 'garbage.json'], dir);
    expect(garbage.code).toBe(1);
    expect(garbage.stdout).toContain('INVALID_JSON');
    const missing = await cli(['validate', 'nope.json'], dir);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read nope.json: no such file');
    expect(missing.stderr).not.toMatch(/\n\s+at /);
  });

  it('run: writes outputs, applies --set, prints JSON events in order', async () => {
    const r = await cli(['run', 'ok.json', '--out', 'results', '--json', '--set', 'save.filename="renamed"', '--set', 'save.format=json'], dir);
    expect(r.code).toBe(0);
    const events = r.stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(events.map((e) => e.type)).toEqual([
      'run.queued', 'run.started', 'node.started', 'node.finished', 'node.started', 'node.log', 'node.finished', 'run.finished',
    ]);
    const saved = JSON.parse(readFileSync(path.join(dir, 'results', 'renamed.json'), 'utf8'));
    expect(saved).toEqual({ shape: [2, 2], dtype: 'float64', data: [1, 2, 3, 4] });
  });

  it('run: plain output and an npy file by default', async () => {
    const r = await cli(['run', 'ok.json', '--out', 'plain'], dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/succeeded\n\s+✓ save: path = .*copy\.npy/);
    expect(Array.from(decodeNpy(readFileSync(path.join(dir, 'plain', 'copy.npy'))).data)).toEqual([1, 2, 3, 4]);
  });

  it('run: bad --set and invalid workflows are refused before anything runs', async () => {
    const badSet = await cli(['run', 'ok.json', '--set', 'sav.filename=x'], dir);
    expect(badSet.code).toBe(2);
    expect(badSet.stderr).toContain('the workflow has no node "sav"');
    const invalid = await cli(['run', 'broken.json', '--out', 'never'], dir);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain('LINK_MISSING_NODE');
    expect(existsSync(path.join(dir, 'never'))).toBe(false);
  });

  it('run: a path outside the input folders is refused by the node, not read', async () => {
    const r = await cli(['run', 'ok.json', '--set', 'load.path=../../../etc/passwd'], dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/failed in node "load".*outside the allowed folder/);
  });

  it('nodes --json: definitions and the workflow schema', async () => {
    const r = await cli(['nodes', '--json'], dir);
    expect(r.code).toBe(0);
    const { nodes, schema } = JSON.parse(r.stdout);
    expect(nodes.map((n: { type: string }) => n.type)).toContain('SaveTensor');
    expect(schema.definitions['SaveTensor.inputs'].properties.format.anyOf[1].enum).toEqual(['npy', 'json']);
  });
});
