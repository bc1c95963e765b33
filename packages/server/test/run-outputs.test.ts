/** The commit protocol of a run's files, step by step, including the crash windows between steps. */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RunOutputs } from '../src/run-outputs.ts';

function setup(): { data: string; outputs: RunOutputs } {
  const data = mkdtempSync(path.join(tmpdir(), 'diffgraph-run-outputs-'));
  return { data, outputs: new RunOutputs(path.join(data, 'outputs'), path.join(data, 'staging')) };
}

describe('RunOutputs', () => {
  it('an attempt starts empty, whatever a killed attempt left in staging', () => {
    const { outputs } = setup();
    writeFileSync(path.join(outputs.begin('r'), 'x_00001.png'), 'killed attempt');
    const dir = outputs.begin('r');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('commit replaces a folder an earlier attempt committed before the crash that kept it unrecorded', () => {
    const { outputs } = setup();
    writeFileSync(path.join(outputs.begin('r'), 'x_00001.png'), 'first');
    writeFileSync(path.join(outputs.stagingDir('r'), 'x_00002.png'), 'first');
    outputs.commit('r');
    // The crash: the database never recorded it; the retry writes one file and commits.
    writeFileSync(path.join(outputs.begin('r'), 'x_00001.png'), 'second');
    outputs.commit('r');
    expect(readdirSync(outputs.committedDir('r'))).toEqual(['x_00001.png']);
    expect(existsSync(outputs.stagingDir('r'))).toBe(false);
  });

  it('names files by their committed place, from the staging path or its real path', () => {
    const { data, outputs } = setup();
    const staged = outputs.begin('r');
    expect(outputs.committedName('r', path.join(staged, 'sub', 'x.png'))).toBe(path.join('r', 'sub', 'x.png'));
    expect(outputs.committedName('r', path.join(outputs.committedDir('r'), 'x.png'))).toBe(path.join('r', 'x.png'));
    expect(outputs.committedName('r', path.join(outputs.stagingDir('other'), 'x.png'))).toBeNull();
    expect(outputs.committedName('r', staged)).toBeNull();
    const linked = path.join(data, 'linked-data');
    symlinkSync(data, linked);
    const viaLink = new RunOutputs(path.join(linked, 'outputs'), path.join(linked, 'staging'));
    expect(viaLink.committedName('r', path.join(staged, 'x.png'))).toBe(path.join('r', 'x.png'));
  });

  it('abandon removes every file of a run that is given up; discard only its staging', () => {
    const { outputs } = setup();
    outputs.begin('r');
    outputs.commit('r');
    mkdirSync(outputs.begin('r'), { recursive: true });
    outputs.discard('r');
    expect(existsSync(outputs.stagingDir('r'))).toBe(false);
    expect(existsSync(outputs.committedDir('r'))).toBe(true);
    outputs.abandon('r');
    expect(existsSync(outputs.committedDir('r'))).toBe(false);
  });
});
