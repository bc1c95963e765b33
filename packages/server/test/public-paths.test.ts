/** How server paths are rewritten for clients: relative inside a folder, a label for the folder itself. */
import { mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { pathScrubber, scrubDeep } from '../src/public-paths.ts';

describe('pathScrubber', () => {
  const base = mkdtempSync(path.join(tmpdir(), 'diffgraph-scrub-'));
  const inputs = path.join(base, 'inputs');
  const outputs = path.join(base, 'outputs');
  mkdirSync(inputs);
  mkdirSync(outputs);
  const linked = path.join(base, 'linked');
  symlinkSync(base, linked);
  // Configured through a link: the nodes report real paths, messages may carry either.
  const scrub = pathScrubber([{ dir: path.join(linked, 'inputs'), label: '<inputs>' }, { dir: outputs, label: '<outputs>' }, { dir: path.join(outputs, 'staging'), label: '<outputs>' }]);

  it('makes paths inside a folder relative and names the folder by its label', () => {
    expect(scrub(`file "a.png" not found in ${inputs}`)).toBe('file "a.png" not found in <inputs>');
    expect(scrub(`cannot read ${path.join(inputs, 'sub', 'a b.png')}: bad`)).toBe('cannot read sub/a b.png: bad'.replace('/', path.sep));
    expect(scrub(`(${path.join(linked, 'inputs')}, ${outputs})`)).toBe('(<inputs>, <outputs>)');
    expect(scrub(`saved to ${path.join(outputs, 'staging', 'run', 'x.png')}`)).toBe(`saved to ${path.join('run', 'x.png')}`);
  });

  it('leaves other paths alone: a sibling that shares the prefix, a path that merely contains it', () => {
    expect(scrub(`${inputs}2/x.png`)).toBe(`${inputs}2/x.png`);
    expect(scrub(`/elsewhere${inputs}/x.png`)).toBe(`/elsewhere${inputs}/x.png`);
    expect(scrub('no paths here')).toBe('no paths here');
  });

  it('scrubs every string of a JSON value, keeping a "__proto__" key a plain key', () => {
    const value = JSON.parse(`{"a": ["${path.join(inputs, 'x')}", 1, null], "__proto__": {"m": "${outputs}"}}`);
    const scrubbed = scrubDeep(value, scrub);
    expect(scrubbed.a).toEqual(['x', 1, null]);
    expect(Object.getOwnPropertyDescriptor(scrubbed, '__proto__')?.value).toEqual({ m: '<outputs>' });
    expect(Object.getPrototypeOf(scrubbed)).toBe(Object.prototype);
  });
});
