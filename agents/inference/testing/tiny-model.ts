import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { encodeModel, floatTensor, int64Tensor, ModelSpec, NodeSpec, TensorDataType, TensorSpec } from './onnx-writer';

/**
 * A tiny but real causal language model, written from code so tests and the demo never download
 * anything: a one-layer llama-type decoder (2 attention heads, KV cache) over a byte-level
 * tokenizer (token id = byte value, 256 = `<|endoftext|>`, 257 = `<|pad|>`).
 *
 * "Successor" weights make greedy output known in advance: every byte is followed by the next
 * one and `z` by end-of-sequence, so "hello" continues as "pqrstuvwxyz". Random attention
 * weights (a seeded PRNG) still flow through the same graph, so the KV-cache path is exercised.
 * The files are a pure function of the code: their model hash is the same on every run.
 */

export const TINY_MODEL_VOCAB = 258;
export const TINY_MODEL_EOS = 256;
export const TINY_MODEL_PAD = 257;
/** Positions the model can address (prompt + completion); its position table has this many rows. */
export const TINY_MODEL_CONTEXT = 512;
export const TINY_MODEL_CHAT_TEMPLATE =
    "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}";

const HIDDEN = 16;
const HEADS = 2;
const HEAD_DIM = 8;
const SEED = 0x5eed_c0c0;
/** Logit added for the successor byte; the random part of the logits stays well below 1. */
const SUCCESSOR_LOGIT = 12;
const RANDOM_SCALE = 0.1;

/** The byte (or EOS) that greedy decoding produces after `token`. */
export function successorOf(token: number): number {
    if (token === 0x7a /* z */ || token >= 255) return TINY_MODEL_EOS;
    return token + 1;
}

/** mulberry32: tiny, seeded and identical on every platform. */
function prng(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

function randomMatrix(next: () => number, rows: number, cols: number): Float32Array {
    const out = new Float32Array(rows * cols);
    for (let i = 0; i < out.length; i++) {
        // Sum of six uniforms: close enough to a normal distribution for a fixture.
        let s = 0;
        for (let k = 0; k < 6; k++) s += next();
        out[i] = (s - 3) * RANDOM_SCALE;
    }
    return out;
}

function buildGraph(): ModelSpec {
    const V = TINY_MODEL_VOCAB;
    const next = prng(SEED);
    const successor = new Float32Array(V * V);
    for (let t = 0; t < V; t++) successor[t * V + successorOf(t)] = SUCCESSOR_LOGIT;

    const initializers: TensorSpec[] = [
        floatTensor('embed_tokens', [V, HIDDEN], randomMatrix(next, V, HIDDEN)),
        floatTensor('embed_positions', [TINY_MODEL_CONTEXT, HIDDEN], randomMatrix(next, TINY_MODEL_CONTEXT, HIDDEN)),
        floatTensor('w_q', [HIDDEN, HIDDEN], randomMatrix(next, HIDDEN, HIDDEN)),
        floatTensor('w_k', [HIDDEN, HIDDEN], randomMatrix(next, HIDDEN, HIDDEN)),
        floatTensor('w_v', [HIDDEN, HIDDEN], randomMatrix(next, HIDDEN, HIDDEN)),
        floatTensor('w_o', [HIDDEN, HIDDEN], randomMatrix(next, HIDDEN, HIDDEN)),
        floatTensor('lm_head', [HIDDEN, V], randomMatrix(next, HIDDEN, V)),
        floatTensor('successor_logits', [V, V], successor),
        int64Tensor('heads_shape', [4], [0, 0, HEADS, HEAD_DIM]),
        int64Tensor('hidden_shape', [3], [0, 0, HIDDEN]),
        int64Tensor('index_1', [1], [1]),
        int64Tensor('index_2', [1], [2]),
        int64Tensor('mask_axes', [2], [1, 2]),
        floatTensor('one', [], [1]),
        floatTensor('big', [], [1e9]),
        floatTensor('attention_scale', [], [1 / Math.sqrt(HEAD_DIM)]),
    ];

    const n = (opType: string, inputs: string[], outputs: string[], attributes?: NodeSpec['attributes']): NodeSpec => ({
        opType,
        inputs,
        outputs,
        attributes,
    });
    const splitHeads = (name: string): NodeSpec[] => [
        n('MatMul', ['x', `w_${name}`], [`${name}_flat`]),
        n('Reshape', [`${name}_flat`, 'heads_shape'], [`${name}_bshd`]),
        n('Transpose', [`${name}_bshd`], [`${name}_heads`], { perm: { kind: 'ints', value: [0, 2, 1, 3] } }),
    ];

    const nodes: NodeSpec[] = [
        n('Gather', ['embed_tokens', 'input_ids'], ['tok'], { axis: { kind: 'int', value: 0 } }),
        n('Gather', ['embed_positions', 'position_ids'], ['pos'], { axis: { kind: 'int', value: 0 } }),
        n('Add', ['tok', 'pos'], ['x']),
        ...splitHeads('q'),
        ...splitHeads('k'),
        ...splitHeads('v'),
        n('Concat', ['past_key_values.0.key', 'k_heads'], ['present.0.key'], { axis: { kind: 'int', value: 2 } }),
        n('Concat', ['past_key_values.0.value', 'v_heads'], ['present.0.value'], { axis: { kind: 'int', value: 2 } }),
        // scores[b,h,s,t] = q · kᵀ / √head_dim
        n('Transpose', ['present.0.key'], ['k_t'], { perm: { kind: 'ints', value: [0, 1, 3, 2] } }),
        n('MatMul', ['q_heads', 'k_t'], ['scores_raw']),
        n('Mul', ['scores_raw', 'attention_scale'], ['scores']),
        // Causal mask: query i (absolute position past+i) sees keys j <= past+i, i.e. Trilu with k = t - s.
        n('Shape', ['input_ids'], ['ids_shape']),
        n('Gather', ['ids_shape', 'index_1'], ['s_len'], { axis: { kind: 'int', value: 0 } }),
        n('Shape', ['present.0.key'], ['k_shape']),
        n('Gather', ['k_shape', 'index_2'], ['t_len'], { axis: { kind: 'int', value: 0 } }),
        n('Concat', ['s_len', 't_len'], ['st_shape'], { axis: { kind: 'int', value: 0 } }),
        n('ConstantOfShape', ['st_shape'], ['ones_st'], {
            value: { kind: 'tensor', value: floatTensor('ones_value', [1], [1]) },
        }),
        n('Sub', ['t_len', 's_len'], ['diag_1d']),
        n('Squeeze', ['diag_1d'], ['diag']),
        n('Trilu', ['ones_st', 'diag'], ['causal_keep'], { upper: { kind: 'int', value: 0 } }),
        n('Sub', ['causal_keep', 'one'], ['causal_neg']),
        n('Mul', ['causal_neg', 'big'], ['causal_mask']),
        n('Add', ['scores', 'causal_mask'], ['scores_causal']),
        // Padding mask from attention_mask [b,t] → [b,1,1,t].
        n('Cast', ['attention_mask'], ['mask_f'], { to: { kind: 'int', value: TensorDataType.FLOAT } }),
        n('Sub', ['mask_f', 'one'], ['mask_neg']),
        n('Mul', ['mask_neg', 'big'], ['pad_mask_bt']),
        n('Unsqueeze', ['pad_mask_bt', 'mask_axes'], ['pad_mask']),
        n('Add', ['scores_causal', 'pad_mask'], ['scores_masked']),
        n('Softmax', ['scores_masked'], ['probs'], { axis: { kind: 'int', value: -1 } }),
        n('MatMul', ['probs', 'present.0.value'], ['context_heads']),
        n('Transpose', ['context_heads'], ['context_bshd'], { perm: { kind: 'ints', value: [0, 2, 1, 3] } }),
        n('Reshape', ['context_bshd', 'hidden_shape'], ['context']),
        n('MatMul', ['context', 'w_o'], ['attn_out']),
        n('Add', ['attn_out', 'x'], ['hidden']),
        n('MatMul', ['hidden', 'lm_head'], ['logits_lm']),
        n('Gather', ['successor_logits', 'input_ids'], ['logits_successor'], { axis: { kind: 'int', value: 0 } }),
        n('Add', ['logits_lm', 'logits_successor'], ['logits']),
    ];

    const kv = ['batch_size', HEADS, 'past_sequence_length', HEAD_DIM];
    const present = ['batch_size', HEADS, 'total_sequence_length', HEAD_DIM];
    return {
        irVersion: 8,
        opsetVersion: 17,
        producerName: 'cocoon-ton/make-tiny-model',
        producerVersion: '1',
        graph: {
            name: 'tiny_llama_successor',
            nodes,
            initializers,
            inputs: [
                { name: 'input_ids', elemType: TensorDataType.INT64, shape: ['batch_size', 'sequence_length'] },
                { name: 'attention_mask', elemType: TensorDataType.INT64, shape: ['batch_size', 'total_sequence_length'] },
                { name: 'position_ids', elemType: TensorDataType.INT64, shape: ['batch_size', 'sequence_length'] },
                { name: 'past_key_values.0.key', elemType: TensorDataType.FLOAT, shape: kv },
                { name: 'past_key_values.0.value', elemType: TensorDataType.FLOAT, shape: kv },
            ],
            outputs: [
                { name: 'logits', elemType: TensorDataType.FLOAT, shape: ['batch_size', 'sequence_length', TINY_MODEL_VOCAB] },
                { name: 'present.0.key', elemType: TensorDataType.FLOAT, shape: present },
                { name: 'present.0.value', elemType: TensorDataType.FLOAT, shape: present },
            ],
        },
    };
}

/** GPT-2's byte → printable-character table, which byte-level BPE vocabularies are written in. */
function byteToUnicode(): string[] {
    const printable: number[] = [];
    for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
    for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
    for (let b = 0xae; b <= 0xff; b++) printable.push(b);
    const table: string[] = new Array(256);
    let extra = 0;
    for (let b = 0; b < 256; b++) {
        table[b] = printable.includes(b) ? String.fromCharCode(b) : String.fromCharCode(256 + extra++);
    }
    return table;
}

function json(value: unknown): Buffer {
    return Buffer.from(JSON.stringify(value, null, 2) + '\n', 'utf8');
}

/** The files of the tiny model, by path relative to the model folder. */
export function tinyModelFiles(): Map<string, Buffer> {
    const vocab: Record<string, number> = {};
    byteToUnicode().forEach((ch, b) => (vocab[ch] = b));
    const special = (id: number, content: string) => ({
        id,
        content,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
    });
    const tokenizer = {
        version: '1.0',
        truncation: null,
        padding: null,
        added_tokens: [special(TINY_MODEL_EOS, '<|endoftext|>'), special(TINY_MODEL_PAD, '<|pad|>')],
        normalizer: null,
        pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
        post_processor: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: true },
        decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
        model: {
            type: 'BPE',
            dropout: null,
            unk_token: null,
            continuing_subword_prefix: null,
            end_of_word_suffix: null,
            fuse_unk: false,
            byte_fallback: false,
            ignore_merges: false,
            vocab,
            merges: [],
        },
    };
    const tokenizerConfig = {
        tokenizer_class: 'PreTrainedTokenizerFast',
        bos_token: '<|endoftext|>',
        eos_token: '<|endoftext|>',
        pad_token: '<|pad|>',
        add_bos_token: false,
        add_eos_token: false,
        clean_up_tokenization_spaces: false,
        model_max_length: TINY_MODEL_CONTEXT,
        chat_template: TINY_MODEL_CHAT_TEMPLATE,
    };
    const config = {
        architectures: ['LlamaForCausalLM'],
        model_type: 'llama',
        vocab_size: TINY_MODEL_VOCAB,
        hidden_size: HIDDEN,
        intermediate_size: HIDDEN,
        num_hidden_layers: 1,
        num_attention_heads: HEADS,
        num_key_value_heads: HEADS,
        head_dim: HEAD_DIM,
        max_position_embeddings: TINY_MODEL_CONTEXT,
        bos_token_id: TINY_MODEL_EOS,
        eos_token_id: TINY_MODEL_EOS,
        pad_token_id: TINY_MODEL_PAD,
        tie_word_embeddings: false,
        torch_dtype: 'float32',
        use_cache: true,
    };
    const generationConfig = {
        bos_token_id: TINY_MODEL_EOS,
        eos_token_id: TINY_MODEL_EOS,
        pad_token_id: TINY_MODEL_PAD,
        do_sample: false,
    };
    return new Map<string, Buffer>([
        ['config.json', json(config)],
        ['generation_config.json', json(generationConfig)],
        ['tokenizer.json', json(tokenizer)],
        ['tokenizer_config.json', json(tokenizerConfig)],
        ['onnx/model.onnx', Buffer.from(encodeModel(buildGraph()))],
    ]);
}

/** Writes every file of the tiny model into `dir` (created if needed), replacing what is there. */
export async function writeTinyModel(dir: string): Promise<void> {
    await syncFiles(dir, tinyModelFiles(), true);
}

/**
 * Makes sure `dir` holds the tiny model, byte for byte: missing or altered files are (re)written,
 * correct ones are left untouched. Safe to call from parallel test workers (atomic renames).
 * Returns the absolute folder path.
 */
export async function ensureTinyModel(dir: string): Promise<string> {
    const abs = path.resolve(dir);
    await syncFiles(abs, tinyModelFiles(), false);
    return abs;
}

async function syncFiles(dir: string, files: Map<string, Buffer>, force: boolean): Promise<void> {
    for (const [rel, bytes] of files) {
        const target = path.join(dir, rel);
        if (!force) {
            const existing = await fs.readFile(target).catch(() => null);
            if (existing && existing.equals(bytes)) continue;
        }
        await fs.mkdir(path.dirname(target), { recursive: true });
        const temp = `${target}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
        await fs.writeFile(temp, bytes);
        await fs.rename(temp, target);
    }
}
