/**
 * The element types of an ONNX model's graph inputs, read from the file's protobuf without loading it
 * into onnxruntime: the catalog lists precisions of many models, and a session would allocate every
 * weight. Only field headers are read while walking the file, so a 3 GB UNet with embedded weights
 * costs a few hundred small reads (initializers are skipped by their length, never read).
 *
 * Wire format (protobuf): ModelProto.graph = 7; GraphProto.input = 11 (ValueInfoProto);
 * ValueInfoProto.name = 1, .type = 2; TypeProto.tensor_type = 1; TypeProto.Tensor.elem_type = 1.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** onnx.TensorProto.DataType values to the names onnxruntime uses. */
const ELEMENT_TYPES: Record<number, string> = {
  1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 8: 'string',
  9: 'bool', 10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64', 16: 'bfloat16',
};

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

/** Reads a file at positions through a small window, so skipping a field costs nothing. */
class PositionalReader {
  private window = Buffer.alloc(0);
  private windowStart = 0;
  constructor(private readonly fd: number) {}

  bytes(position: number, length: number): Buffer {
    const end = position + length;
    if (position < this.windowStart || end > this.windowStart + this.window.length) {
      const size = Math.max(length, 64 * 1024);
      const buffer = Buffer.alloc(size);
      const read = readSync(this.fd, buffer, 0, size, position);
      this.window = buffer.subarray(0, read);
      this.windowStart = position;
      if (read < length) throw new Error('unexpected end of file');
    }
    return this.window.subarray(position - this.windowStart, end - this.windowStart);
  }
}

interface Field {
  number: number;
  wire: number;
  /** Where the value starts (after the tag, and after the length for length-delimited fields). */
  start: number;
  /** The varint's value, or the length of a length-delimited field. */
  value: number;
  /** The first byte after the field. */
  next: number;
}

/** Walks the fields of a message that lies in [start, end) of a source of bytes. */
function* fields(read: (position: number, length: number) => Buffer, start: number, end: number): Generator<Field> {
  let position = start;
  const varint = (): number => {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const byte = read(position++, 1)[0]!;
      result += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) return result;
      scale *= 128;
    }
    throw new Error('malformed varint');
  };
  while (position < end) {
    const tag = varint();
    const number = Math.floor(tag / 8);
    const wire = tag % 8;
    if (wire === WIRE_VARINT) {
      const value = varint();
      yield { number, wire, start: position, value, next: position };
    } else if (wire === WIRE_LEN) {
      const length = varint();
      const valueStart = position;
      position += length;
      if (position > end) throw new Error('a field runs past the end of its message');
      yield { number, wire, start: valueStart, value: length, next: position };
    } else if (wire === WIRE_I64 || wire === WIRE_I32) {
      const valueStart = position;
      position += wire === WIRE_I64 ? 8 : 4;
      yield { number, wire, start: valueStart, value: 0, next: position };
    } else {
      throw new Error(`unsupported protobuf wire type ${wire}`);
    }
  }
}

function first(read: (p: number, l: number) => Buffer, start: number, end: number, number: number, wire: number): Field | undefined {
  for (const f of fields(read, start, end)) if (f.number === number && f.wire === wire) return f;
  return undefined;
}

/** Name → element type (`float32`, `float16`, …; `tensor?` when not a tensor) of every graph input. */
export function onnxGraphInputTypes(file: string): Map<string, string> {
  const fd = openSync(file, 'r');
  try {
    const reader = new PositionalReader(fd);
    const read = (p: number, l: number) => reader.bytes(p, l);
    const { size } = fstatSync(fd);
    const graph = first(read, 0, size, 7, WIRE_LEN);
    if (!graph) throw new Error('no graph in the file');
    const types = new Map<string, string>();
    for (const input of fields(read, graph.start, graph.next)) {
      if (input.number !== 11 || input.wire !== WIRE_LEN) continue;
      // A ValueInfoProto is small: read it whole and parse it from memory.
      const info = Buffer.from(read(input.start, input.value));
      const local = (p: number, l: number) => info.subarray(p, p + l);
      let name = '';
      let type = 'tensor?';
      for (const f of fields(local, 0, info.length)) {
        if (f.number === 1 && f.wire === WIRE_LEN) name = info.subarray(f.start, f.next).toString('utf8');
        if (f.number === 2 && f.wire === WIRE_LEN) {
          const tensor = first(local, f.start, f.next, 1, WIRE_LEN);
          const elem = tensor && first(local, tensor.start, tensor.next, 1, WIRE_VARINT);
          if (elem) type = ELEMENT_TYPES[elem.value] ?? `onnx type ${elem.value}`;
        }
      }
      types.set(name, type);
    }
    return types;
  } catch (e) {
    throw new Error(`${file}: cannot read the ONNX graph inputs (${(e as Error).message})`);
  } finally {
    closeSync(fd);
  }
}
