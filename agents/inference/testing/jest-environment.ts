import NodeEnvironment from 'jest-environment-node';

/**
 * Jest runs each test file in its own V8 context, whose typed-array constructors differ from
 * the main context's. onnxruntime-node's native addon creates its output tensors' arrays in the
 * main context, and onnxruntime-common then rejects them ("A float32 tensor's data must be type
 * of Float32Array") because `instanceof` fails across contexts. Sharing the main context's
 * constructors fixes that. Test files that run an ONNX model start with:
 *
 *     /** @jest-environment ./agents/inference/testing/jest-environment.ts *\/
 */
export default class OnnxFriendlyEnvironment extends NodeEnvironment {
    async setup(): Promise<void> {
        await super.setup();
        const shared = [
            'ArrayBuffer',
            'Uint8Array',
            'Int8Array',
            'Uint16Array',
            'Int16Array',
            'Uint32Array',
            'Int32Array',
            'Float32Array',
            'Float64Array',
            'BigInt64Array',
            'BigUint64Array',
            'Uint8ClampedArray',
        ] as const;
        for (const name of shared) (this.global as Record<string, unknown>)[name] = globalThis[name];
    }
}
