/** Node packs in the registry: all of a pack or none, pack names and versions, shapes from plain JavaScript. */
import { describe, expect, it } from 'vitest';
import { NodeRegistry, type NodeDefinition } from '../src/index.ts';

const node = (type: string, extra: Partial<NodeDefinition> = {}): NodeDefinition => ({
  type, category: 't', description: '', version: 1, inputs: {}, outputs: { value: { type: 'FLOAT' } }, run: () => ({ value: 1 }), ...extra,
});

describe('NodeRegistry packs', () => {
  it('registers none of a pack when one of its definitions is invalid', () => {
    const r = new NodeRegistry();
    expect(() => r.registerPack({ name: 'half', nodes: [node('Good'), node('bad')] })).toThrow(/"bad": type must be PascalCase/);
    expect(r.has('Good')).toBe(false);
    expect(r.packs()).toEqual([]);
  });

  it('registers none of a pack that collides, and names both packs', () => {
    const r = new NodeRegistry();
    r.registerPack({ name: 'first', nodes: [node('Shared')] });
    expect(() => r.registerPack({ name: 'second', nodes: [node('Own'), node('Shared')] })).toThrow('Node type "Shared" from pack "second" is already registered by pack "first"');
    expect(r.has('Own')).toBe(false);
    expect(r.pack('Shared')).toBe('first');
  });

  it('refuses a type twice in one pack, and a pack name twice', () => {
    const r = new NodeRegistry();
    expect(() => r.registerPack({ name: 'twice', nodes: [node('Same'), node('Same')] })).toThrow('Node type "Same" appears twice in pack "twice"');
    expect(r.has('Same')).toBe(false);
    r.registerPack({ name: 'p', nodes: [node('A')] });
    expect(() => r.registerPack({ name: 'p', nodes: [node('B')] })).toThrow('A node pack named "p" is already registered');
  });

  it('records each pack with its version and node types', () => {
    const r = new NodeRegistry();
    r.registerPack({ name: 'core', nodes: [node('Zed'), node('Alpha')] });
    r.registerPack({ name: 'extra', version: '1.2.0', nodes: [node('Beta')] });
    expect(r.packs()).toEqual([{ name: 'core', nodes: ['Alpha', 'Zed'] }, { name: 'extra', version: '1.2.0', nodes: ['Beta'] }]);
    expect(r.pack('Beta')).toBe('extra');
  });

  it('names the field a malformed plain-JavaScript definition gets wrong', () => {
    const r = new NodeRegistry();
    const bad = (value: unknown) => () => r.register(value as NodeDefinition);
    expect(bad(null)).toThrow('Node definition must be an object, not null');
    expect(bad({ ...node('X'), type: 7 })).toThrow('Node definition has no type (a PascalCase string), got number 7');
    expect(bad({ ...node('X'), category: undefined })).toThrow('Node definition "X": category must be a string, got undefined');
    expect(bad({ ...node('X'), inputs: [] })).toThrow('Node definition "X": inputs must be an object of { name: { type } }, got an array');
    expect(bad({ ...node('X'), inputs: { a: 'FLOAT' } })).toThrow('Node definition "X": input "a" needs a type');
    expect(bad({ ...node('X'), outputs: { out: {} } })).toThrow('Node definition "X": output "out" needs a type');
    expect(bad({ ...node('X'), output: 'yes' })).toThrow('Node definition "X": output must be true or false, got "yes"');
    expect(bad({ ...node('X'), inputs: { m: { type: 'STRING', enum: 'a|b' } } })).toThrow('enum must be an array of strings');
    expect(r.list()).toEqual([]);
  });
});

describe('appliesWhen', () => {
  const ruled = (appliesWhen: { input: string; values: string[] }) => node('Ruled', {
    inputs: { kind: { type: 'STRING', enum: ['a', 'b'], default: 'a' }, extra: { type: 'FLOAT', default: 0, appliesWhen } },
  });

  it('is accepted when it names another enum input and values of its enum', () => {
    expect(() => new NodeRegistry().register(ruled({ input: 'kind', values: ['b'] }))).not.toThrow();
  });

  it('is refused when it names no enum input, or values outside the enum', () => {
    expect(() => new NodeRegistry().register(ruled({ input: 'missing', values: ['a'] }))).toThrow(/appliesWhen names "missing", which is not another enum input/);
    expect(() => new NodeRegistry().register(ruled({ input: 'extra', values: ['a'] }))).toThrow(/not another enum input/);
    expect(() => new NodeRegistry().register(ruled({ input: 'kind', values: ['a', 'c'] }))).toThrow(/appliesWhen values "c" are not in the enum of "kind"/);
  });
});
