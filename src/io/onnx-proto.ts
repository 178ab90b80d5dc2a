/**
 * The part of ONNX's protobuf schema (onnx.proto, IR version 8 and later) that an exported
 * model uses, as data: message name → field name → [field number, type, repeated?]. The
 * wire format itself (tags, varints, length-delimited nesting, float bytes) is written by
 * @bufbuild/protobuf's BinaryWriter, loaded only when a model is exported.
 *
 * Messages are plain objects whose keys are onnx.proto's field names; a field that is
 * undefined is absent. Repeated scalars are written unpacked, as proto2 declares them.
 */

/** A field: its number, its type (a scalar type or a message name), and whether it repeats. */
type Field = readonly [number, string, boolean?];

const R = true;

export const ONNX_SCHEMA: Readonly<Record<string, Readonly<Record<string, Field>>>> = {
  ModelProto: {
    ir_version: [1, "int64"],
    producer_name: [2, "string"],
    producer_version: [3, "string"],
    domain: [4, "string"],
    model_version: [5, "int64"],
    doc_string: [6, "string"],
    graph: [7, "GraphProto"],
    opset_import: [8, "OperatorSetIdProto", R],
    metadata_props: [14, "StringStringEntryProto", R],
  },
  OperatorSetIdProto: {
    domain: [1, "string"],
    version: [2, "int64"],
  },
  StringStringEntryProto: {
    key: [1, "string"],
    value: [2, "string"],
  },
  GraphProto: {
    node: [1, "NodeProto", R],
    name: [2, "string"],
    initializer: [5, "TensorProto", R],
    doc_string: [10, "string"],
    input: [11, "ValueInfoProto", R],
    output: [12, "ValueInfoProto", R],
    value_info: [13, "ValueInfoProto", R],
  },
  NodeProto: {
    input: [1, "string", R],
    output: [2, "string", R],
    name: [3, "string"],
    op_type: [4, "string"],
    attribute: [5, "AttributeProto", R],
    doc_string: [6, "string"],
    domain: [7, "string"],
  },
  AttributeProto: {
    name: [1, "string"],
    f: [2, "float"],
    i: [3, "int64"],
    s: [4, "bytes"],
    t: [5, "TensorProto"],
    floats: [7, "float", R],
    ints: [8, "int64", R],
    type: [20, "int32"],
  },
  ValueInfoProto: {
    name: [1, "string"],
    type: [2, "TypeProto"],
    doc_string: [3, "string"],
  },
  TypeProto: {
    tensor_type: [1, "TypeProto.Tensor"],
  },
  "TypeProto.Tensor": {
    elem_type: [1, "int32"],
    shape: [2, "TensorShapeProto"],
  },
  TensorShapeProto: {
    dim: [1, "TensorShapeProto.Dimension", R],
  },
  "TensorShapeProto.Dimension": {
    dim_value: [1, "int64"],
    dim_param: [2, "string"],
  },
  TensorProto: {
    dims: [1, "int64", R],
    data_type: [2, "int32"],
    name: [8, "string"],
    raw_data: [9, "bytes"],
    doc_string: [12, "string"],
  },
};

/** AttributeProto.AttributeType values. */
export const ATTR_TYPE = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;
/** TensorProto.DataType values. */
export const DATA_TYPE = { FLOAT: 1, INT64: 7 } as const;

/** What the encoder needs of @bufbuild/protobuf's `wire` module. */
export interface WireModule {
  BinaryWriter: new () => Writer;
  WireType: { Varint: number; Bit32: number; LengthDelimited: number };
}

interface Writer {
  tag(fieldNo: number, type: number): Writer;
  fork(): Writer;
  join(): Writer;
  string(v: string): Writer;
  bytes(v: Uint8Array): Writer;
  int64(v: number | bigint | string): Writer;
  int32(v: number): Writer;
  float(v: number): Writer;
  finish(): Uint8Array;
}

/** Encodes `msg` (a plain object of message `type`) to protobuf bytes. */
export function encodeMessage(wire: WireModule, type: string, msg: object): Uint8Array {
  const w = new wire.BinaryWriter();
  writeFields(wire, w, type, msg as Record<string, unknown>);
  return w.finish();
}

function writeFields(wire: WireModule, w: Writer, type: string, msg: Record<string, unknown>): void {
  const schema = ONNX_SCHEMA[type];
  if (schema === undefined) throw new Error(`exportOnnx: no schema for message ${type}`);
  for (const key of Object.keys(msg)) {
    if (!(key in schema)) throw new Error(`exportOnnx: ${type} has no field '${key}'`);
  }
  const fields = Object.entries(schema).sort((a, b) => a[1][0] - b[1][0]);
  for (const [key, [no, ftype, repeated]] of fields) {
    const v = msg[key];
    if (v === undefined) continue;
    if (repeated) {
      if (!Array.isArray(v)) throw new Error(`exportOnnx: ${type}.${key} must be a list`);
      for (const item of v) writeOne(wire, w, no, ftype, item, `${type}.${key}`);
    } else {
      writeOne(wire, w, no, ftype, v, `${type}.${key}`);
    }
  }
}

function writeOne(wire: WireModule, w: Writer, no: number, ftype: string, v: unknown, where: string): void {
  const T = wire.WireType;
  switch (ftype) {
    case "string":
      if (typeof v !== "string") throw new Error(`exportOnnx: ${where} must be a string`);
      w.tag(no, T.LengthDelimited).string(v);
      return;
    case "bytes":
      if (typeof v === "string") w.tag(no, T.LengthDelimited).bytes(new TextEncoder().encode(v));
      else if (v instanceof Uint8Array) w.tag(no, T.LengthDelimited).bytes(v);
      else throw new Error(`exportOnnx: ${where} must be bytes`);
      return;
    case "int64":
      if (typeof v !== "number" || !Number.isSafeInteger(v)) throw new Error(`exportOnnx: ${where} must be an integer, got ${String(v)}`);
      w.tag(no, T.Varint).int64(v);
      return;
    case "int32":
      if (typeof v !== "number" || !Number.isInteger(v)) throw new Error(`exportOnnx: ${where} must be an integer, got ${String(v)}`);
      w.tag(no, T.Varint).int32(v);
      return;
    case "float":
      if (typeof v !== "number") throw new Error(`exportOnnx: ${where} must be a number`);
      w.tag(no, T.Bit32).float(v);
      return;
    default:
      if (v === null || typeof v !== "object") throw new Error(`exportOnnx: ${where} must be a ${ftype} message`);
      w.tag(no, T.LengthDelimited).fork();
      writeFields(wire, w, ftype, v as Record<string, unknown>);
      w.join();
  }
}
