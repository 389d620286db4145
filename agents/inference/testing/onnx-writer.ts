/**
 * A zero-dependency writer for the small subset of the ONNX protobuf format that a hand-built
 * graph needs (model, graph, nodes, attributes, initializers, typed inputs and outputs).
 *
 * Why hand-written: the only npm alternative (onnx-proto) drags protobufjs@6 into the tree, and a
 * test fixture needs about a dozen field numbers. Output is a pure function of the input, so the
 * same graph always gives the same bytes (the model hash of the generated fixture is stable).
 *
 * Field numbers follow onnx/onnx.proto (IR version 8).
 */

export enum TensorDataType {
    FLOAT = 1,
    INT64 = 7,
}

enum AttributeType {
    FLOAT = 1,
    INT = 2,
    TENSOR = 4,
    INTS = 7,
}

export type AttributeValue =
    | { kind: 'float'; value: number }
    | { kind: 'int'; value: number }
    | { kind: 'ints'; value: number[] }
    | { kind: 'tensor'; value: TensorSpec };

export interface TensorSpec {
    name: string;
    dataType: TensorDataType;
    dims: number[];
    /** Little-endian element bytes (float32 or int64), stored as raw_data. */
    raw: Uint8Array;
}

export interface NodeSpec {
    opType: string;
    inputs: string[];
    outputs: string[];
    name?: string;
    attributes?: Record<string, AttributeValue>;
}

/** A dimension is either a fixed size or a symbolic name such as `batch_size`. */
export type Dim = number | string;

export interface ValueInfoSpec {
    name: string;
    elemType: TensorDataType;
    shape: Dim[];
}

export interface GraphSpec {
    name: string;
    nodes: NodeSpec[];
    initializers: TensorSpec[];
    inputs: ValueInfoSpec[];
    outputs: ValueInfoSpec[];
}

export interface ModelSpec {
    irVersion: number;
    opsetVersion: number;
    producerName: string;
    producerVersion: string;
    graph: GraphSpec;
}

// ---- protobuf wire primitives -------------------------------------------------------------

class ProtoWriter {
    private readonly chunks: Uint8Array[] = [];

    private push(bytes: Uint8Array | number[]): void {
        this.chunks.push(bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes));
    }

    private tag(field: number, wireType: number): void {
        this.varint(BigInt((field << 3) | wireType));
    }

    /** Varints are written from a BigInt so negative int64 values get their 10-byte two's complement. */
    private varint(value: bigint): void {
        let v = BigInt.asUintN(64, value);
        const out: number[] = [];
        do {
            let byte = Number(v & 0x7fn);
            v >>= 7n;
            if (v !== 0n) byte |= 0x80;
            out.push(byte);
        } while (v !== 0n);
        this.push(out);
    }

    int(field: number, value: number | bigint): this {
        this.tag(field, 0);
        this.varint(BigInt(value));
        return this;
    }

    float(field: number, value: number): this {
        this.tag(field, 5);
        const b = new Uint8Array(4);
        new DataView(b.buffer).setFloat32(0, value, true);
        this.push(b);
        return this;
    }

    bytes(field: number, value: Uint8Array): this {
        this.tag(field, 2);
        this.varint(BigInt(value.length));
        this.push(value);
        return this;
    }

    string(field: number, value: string): this {
        return this.bytes(field, new TextEncoder().encode(value));
    }

    message(field: number, build: (w: ProtoWriter) => void): this {
        const inner = new ProtoWriter();
        build(inner);
        return this.bytes(field, inner.finish());
    }

    finish(): Uint8Array {
        const total = this.chunks.reduce((n, c) => n + c.length, 0);
        const out = new Uint8Array(total);
        let offset = 0;
        for (const c of this.chunks) {
            out.set(c, offset);
            offset += c.length;
        }
        return out;
    }
}

// ---- ONNX messages -------------------------------------------------------------------------

function writeTensor(w: ProtoWriter, t: TensorSpec): void {
    for (const d of t.dims) w.int(1, d); // dims
    w.int(2, t.dataType); // data_type
    w.string(8, t.name); // name
    w.bytes(9, t.raw); // raw_data
}

function writeAttribute(w: ProtoWriter, name: string, a: AttributeValue): void {
    w.string(1, name);
    switch (a.kind) {
        case 'float':
            w.float(2, a.value).int(20, AttributeType.FLOAT);
            break;
        case 'int':
            w.int(3, a.value).int(20, AttributeType.INT);
            break;
        case 'tensor':
            w.message(5, (t) => writeTensor(t, a.value)).int(20, AttributeType.TENSOR);
            break;
        case 'ints':
            for (const v of a.value) w.int(8, v);
            w.int(20, AttributeType.INTS);
            break;
    }
}

function writeNode(w: ProtoWriter, n: NodeSpec, index: number): void {
    for (const i of n.inputs) w.string(1, i);
    for (const o of n.outputs) w.string(2, o);
    w.string(3, n.name ?? `${n.opType}_${index}`);
    w.string(4, n.opType);
    for (const [name, value] of Object.entries(n.attributes ?? {})) {
        w.message(5, (a) => writeAttribute(a, name, value));
    }
}

function writeValueInfo(w: ProtoWriter, v: ValueInfoSpec): void {
    w.string(1, v.name);
    w.message(2, (type) =>
        type.message(1, (tensor) => {
            tensor.int(1, v.elemType);
            tensor.message(2, (shape) => {
                for (const d of v.shape) {
                    shape.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
                }
            });
        }),
    );
}

/** Serializes a model to ONNX protobuf bytes. */
export function encodeModel(model: ModelSpec): Uint8Array {
    const w = new ProtoWriter();
    w.int(1, model.irVersion);
    w.string(2, model.producerName);
    w.string(3, model.producerVersion);
    w.message(7, (g) => {
        model.graph.nodes.forEach((n, i) => g.message(1, (nw) => writeNode(nw, n, i)));
        g.string(2, model.graph.name);
        for (const t of model.graph.initializers) g.message(5, (tw) => writeTensor(tw, t));
        for (const v of model.graph.inputs) g.message(11, (vw) => writeValueInfo(vw, v));
        for (const v of model.graph.outputs) g.message(12, (vw) => writeValueInfo(vw, v));
    });
    w.message(8, (o) => o.string(1, '').int(2, model.opsetVersion));
    return w.finish();
}

// ---- tensor helpers ------------------------------------------------------------------------

export function floatTensor(name: string, dims: number[], values: ArrayLike<number>): TensorSpec {
    const count = dims.reduce((a, b) => a * b, 1);
    if (values.length !== count) throw new Error(`tensor ${name}: ${values.length} values for dims [${dims}]`);
    const data = Float32Array.from(values);
    return { name, dataType: TensorDataType.FLOAT, dims, raw: littleEndianBytes(data.buffer) };
}

export function int64Tensor(name: string, dims: number[], values: number[]): TensorSpec {
    const count = dims.reduce((a, b) => a * b, 1);
    if (values.length !== count) throw new Error(`tensor ${name}: ${values.length} values for dims [${dims}]`);
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    return { name, dataType: TensorDataType.INT64, dims, raw: littleEndianBytes(data.buffer) };
}

function littleEndianBytes(buffer: ArrayBufferLike): Uint8Array {
    // Typed arrays use the platform's byte order; ONNX raw_data is little-endian.
    const bytes = new Uint8Array(buffer.slice(0));
    if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
        throw new Error('big-endian hosts are not supported by the ONNX fixture writer');
    }
    return bytes;
}
