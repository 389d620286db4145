import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import type * as Transformers from '@huggingface/transformers';
import {
    CompletionRequest,
    CompletionResult,
    DEFAULT_MAX_PROMPT_CHARS,
    FinishReason,
    InferenceEngine,
    StopStringMatcher,
    validateRequest,
} from './engine';
import {
    DeviceUnavailableError,
    EngineClosedError,
    InferenceError,
    InferenceTimeoutError,
    InvalidRequestError,
    ModelFilesError,
    ModelNotFoundError,
    ModelRuntimeError,
    PromptTooLongError,
} from './errors';
import { computeManifest, ExpectedIdentity, ModelManifest, verifyModelFolder } from './model-identity';

type Lib = typeof Transformers;
type Tensor = Transformers.Tensor;

export type EmbeddedDevice = 'cpu' | 'cuda' | 'webgpu';
export type EmbeddedDtype = 'fp32' | 'fp16' | 'q8' | 'int8' | 'uint8' | 'q4' | 'q4f16' | 'bnb4';

export interface EmbeddedEngineOptions {
    /** A local model folder (the normal case), or a Hugging Face hub id when `allowDownload` is set. */
    model: string;
    /** Fetch a hub id from the hub when it is not a local folder. Off by default: nothing is downloaded. */
    allowDownload?: boolean;
    /** Hub (or mirror) to download from; default https://huggingface.co/. */
    hubHost?: string;
    revision?: string;
    /** Where hub downloads land (as `<cacheDir>/<hub id>/...`); default `models/hub` under the working directory. */
    cacheDir?: string;
    /** Execution device; default `cpu`. `cuda` needs onnxruntime-node's CUDA provider on the host (see README). */
    device?: EmbeddedDevice;
    /** ONNX Runtime intra-op threads (default: the runtime's choice, one per core). */
    threads?: number;
    /** Which weights file to load (`onnx/model.onnx` for fp32, `onnx/model_q4.onnx` for q4, ...); default fp32. */
    dtype?: EmbeddedDtype;
    /** Refuse to load unless the folder matches this registered identity (hash or manifest). */
    expectedIdentity?: ExpectedIdentity;
    /** Name reported in answers; default the folder name (or the hub id). */
    modelName?: string;
    /** Most prompt tokens (after the chat template) per request; default: the model's context minus one. */
    maxPromptTokens?: number;
    /** Most characters of message content per request; default 1,000,000. */
    maxPromptChars?: number;
    /** Completion tokens when a request names no maxTokens; default 1024 (always capped by the context). */
    defaultMaxTokens?: number;
    /** Wall-clock limit per request when the request names none; default 10 minutes. */
    defaultTimeoutMs?: number;
}

const DEFAULT_MAX_TOKENS = 1024;
const DEFAULT_TIMEOUT_MS = 10 * 60_000;
const HUB_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;

let libraryPromise: Promise<Lib> | null = null;

/**
 * Loads Transformers.js once, on first use (it takes a few hundred ms), and switches hub access
 * off. `require`, not `import()`: under tsx a dynamic import would load the package's ESM build
 * beside the CommonJS build that static imports get, i.e. two copies whose Tensor classes differ.
 */
function library(): Promise<Lib> {
    libraryPromise ??= Promise.resolve().then(() => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const lib = require('@huggingface/transformers') as Lib;
        lib.env.allowRemoteModels = false;
        return lib;
    });
    return libraryPromise;
}

/** Hub loads flip process-wide library settings; one at a time. */
let hubLoadChain: Promise<unknown> = Promise.resolve();

/** Minimal views of the library objects we call (the published typings are loose here). */
interface TokenizerView {
    chat_template?: string | null;
    apply_chat_template(messages: { role: string; content: string }[], options: Record<string, unknown>): unknown;
    decode(ids: number[], options: { skip_special_tokens: boolean }): string;
}
interface ModelView {
    config: Record<string, unknown>;
    generation_config: Record<string, unknown> | null;
    generate(options: Record<string, unknown>): Promise<unknown>;
    dispose(): Promise<unknown>;
}

/**
 * Runs a Transformers.js causal language model inside this process: chat template, greedy
 * decoding by default, per-token streaming, stop strings, cancellation, timeouts and exact token
 * counts. Requests run one at a time, in arrival order (a model saturates the cores on its own).
 */
export class EmbeddedEngine implements InferenceEngine {
    readonly kind = 'embedded' as const;
    private closed = false;
    private queue: Promise<unknown> = Promise.resolve();

    private constructor(
        private readonly lib: Lib,
        private readonly tokenizer: TokenizerView,
        private readonly languageModel: ModelView,
        readonly model: string,
        readonly manifest: ModelManifest,
        readonly folder: string,
        readonly device: EmbeddedDevice,
        /** Positions the model can address: prompt plus completion. */
        readonly contextLength: number,
        private readonly eosTokenIds: ReadonlySet<number>,
        private readonly limits: { maxPromptTokens: number; maxPromptChars: number; defaultMaxTokens: number; defaultTimeoutMs: number },
    ) {}

    get modelHash(): string {
        return this.manifest.hash;
    }

    /** Loads a model. Throws ModelNotFoundError, ModelFilesError, DeviceUnavailableError or ModelIdentityMismatchError. */
    static async load(options: EmbeddedEngineOptions): Promise<EmbeddedEngine> {
        if (!options || typeof options.model !== 'string' || options.model.trim() === '') {
            throw new InvalidRequestError('options.model must name a model folder (or a hub id with allowDownload)');
        }
        const device = options.device ?? 'cpu';
        const dtype = options.dtype ?? 'fp32';
        if (!['cpu', 'cuda', 'webgpu'].includes(device)) {
            throw new InvalidRequestError(`device must be cpu, cuda or webgpu, got ${JSON.stringify(device)}`);
        }
        checkPositive('threads', options.threads);
        checkPositive('maxPromptTokens', options.maxPromptTokens);
        checkPositive('maxPromptChars', options.maxPromptChars);
        checkPositive('defaultMaxTokens', options.defaultMaxTokens);
        checkPositive('defaultTimeoutMs', options.defaultTimeoutMs);
        if (device === 'cuda') assertCudaProviderInstalled();

        const lib = await library();
        const localDir = path.resolve(options.model);
        const isLocal = existsSync(localDir);
        let folder: string;
        let tokenizer: TokenizerView;
        let languageModel: ModelView;
        let manifest: ModelManifest;

        if (isLocal) {
            folder = localDir;
            await checkModelFolder(folder);
            manifest = options.expectedIdentity ? await verifyModelFolder(folder, options.expectedIdentity) : await computeManifest(folder);
            ({ tokenizer, languageModel } = await loadFromLibrary(lib, folder, { device, dtype, threads: options.threads, local_files_only: true }, folder));
        } else if (HUB_ID.test(options.model) && options.allowDownload) {
            const cacheDir = path.resolve(options.cacheDir ?? path.join('models', 'hub'));
            folder = path.join(cacheDir, options.model);
            ({ tokenizer, languageModel } = await loadFromHub(lib, options.model, {
                device,
                dtype,
                threads: options.threads,
                cacheDir,
                hubHost: options.hubHost,
                revision: options.revision,
            }));
            try {
                manifest = options.expectedIdentity ? await verifyModelFolder(folder, options.expectedIdentity) : await computeManifest(folder);
            } catch (e) {
                await languageModel.dispose();
                throw e;
            }
        } else if (HUB_ID.test(options.model)) {
            throw new ModelNotFoundError(
                `no model folder at ${localDir}; "${options.model}" looks like a Hugging Face hub id, but downloads are off: ` +
                    'pass a local folder, or set allowDownload (needs internet) to fetch it',
            );
        } else {
            throw new ModelNotFoundError(`no model folder at ${localDir}: pass the folder holding config.json, the tokenizer and onnx/`);
        }

        if (!tokenizer.chat_template) {
            await languageModel.dispose();
            throw new ModelFilesError(
                `model ${folder} has no chat template: add "chat_template" to tokenizer_config.json or a chat_template.jinja file`,
            );
        }

        const config = languageModel.config;
        const contextLength = firstPositiveInt(config.max_position_embeddings, config.n_positions, config.max_sequence_length) ?? Number.MAX_SAFE_INTEGER;
        const eos = languageModel.generation_config?.eos_token_id ?? config.eos_token_id;
        const eosTokenIds = new Set<number>((Array.isArray(eos) ? eos : eos === undefined || eos === null ? [] : [eos]).map(Number));
        const maxPromptTokens = Math.min(options.maxPromptTokens ?? Number.MAX_SAFE_INTEGER, contextLength - 1);

        return new EmbeddedEngine(
            lib,
            tokenizer,
            languageModel,
            options.modelName ?? (isLocal ? path.basename(folder) : options.model),
            manifest,
            folder,
            device,
            contextLength,
            eosTokenIds,
            {
                maxPromptTokens,
                maxPromptChars: options.maxPromptChars ?? DEFAULT_MAX_PROMPT_CHARS,
                defaultMaxTokens: options.defaultMaxTokens ?? DEFAULT_MAX_TOKENS,
                defaultTimeoutMs: options.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS,
            },
        );
    }

    /** Most prompt tokens a request may have (after the chat template). */
    get maxPromptTokens(): number {
        return this.limits.maxPromptTokens;
    }

    /** Renders and tokenizes a conversation with the model's chat template (what `complete` feeds the model). */
    promptTokenIds(messages: CompletionRequest['messages']): number[] {
        const ids = this.encode(messages).input_ids;
        return Array.from(ids.data as BigInt64Array, Number);
    }

    async complete(request: CompletionRequest): Promise<CompletionResult> {
        if (this.closed) throw new EngineClosedError();
        const startedAt = Date.now();
        const { stop } = validateRequest(request, this.limits);
        const timeoutMs = request.timeoutMs ?? this.limits.defaultTimeoutMs;
        const deadline = startedAt + timeoutMs;

        const inputs = this.encode(request.messages);
        const promptTokens = inputs.input_ids.dims[1];
        if (promptTokens === 0) throw new InvalidRequestError('the chat template rendered the conversation to zero tokens');
        const tooLong = promptLimitError(promptTokens, this);
        if (tooLong) throw tooLong;
        const maxNewTokens = Math.min(request.maxTokens ?? this.limits.defaultMaxTokens, this.contextLength - promptTokens);

        // One generation at a time; the queue keeps arrival order.
        const run = this.queue.then(() => this.generate(request, stop, inputs, promptTokens, maxNewTokens, deadline, timeoutMs));
        this.queue = run.catch(() => undefined);
        return run;
    }

    async close(): Promise<void> {
        if (this.closed) return;
        this.closed = true;
        await this.queue;
        await this.languageModel.dispose();
    }

    private encode(messages: CompletionRequest['messages']): { input_ids: Tensor; attention_mask: Tensor } {
        try {
            return this.tokenizer.apply_chat_template(
                messages.map((m) => ({ role: m.role, content: m.content })),
                { add_generation_prompt: true, tokenize: true, return_dict: true },
            ) as { input_ids: Tensor; attention_mask: Tensor };
        } catch (e) {
            throw new InvalidRequestError(`the model's chat template rejected the conversation: ${(e as Error).message}`);
        }
    }

    private async generate(
        request: CompletionRequest,
        stop: string[],
        inputs: { input_ids: Tensor; attention_mask: Tensor },
        promptTokens: number,
        maxNewTokens: number,
        deadline: number,
        timeoutMs: number,
    ): Promise<CompletionResult> {
        const result = (text: string, completionTokens: number, finishReason: FinishReason): CompletionResult => ({
            text,
            finishReason,
            usage: { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens, source: 'counted' },
            model: this.model,
            modelHash: this.modelHash,
        });
        if (this.closed) throw new EngineClosedError();
        if (request.signal?.aborted) return result('', 0, 'cancelled');
        if (Date.now() >= deadline) {
            throw new InferenceTimeoutError(`the request waited past its ${timeoutMs} ms limit before the model was free`, { text: '', completionTokens: 0 });
        }

        const progress = new GenerationProgress(this.tokenizer, stop, request.onToken, request.signal, deadline, this.eosTokenIds);
        const sampling = (request.temperature ?? 0) > 0;
        try {
            await this.languageModel.generate({
                ...inputs,
                max_new_tokens: maxNewTokens,
                do_sample: sampling,
                ...(sampling ? { temperature: request.temperature, top_p: request.topP ?? 1 } : {}),
                streamer: progress,
                stopping_criteria: [progress.criterion(this.lib)],
            });
        } catch (e) {
            throw new ModelRuntimeError(`model ${this.model} failed while generating: ${(e as Error).message}`, { cause: e });
        }
        if (progress.callbackError !== undefined) throw progress.callbackError;

        const text = progress.finalText();
        const completionTokens = progress.generated.length;
        if (progress.timedOut) {
            throw new InferenceTimeoutError(`generation ran past the ${timeoutMs} ms limit after ${completionTokens} tokens`, {
                text,
                completionTokens,
            });
        }
        let finishReason: FinishReason;
        if (progress.cancelled) finishReason = 'cancelled';
        else if (progress.stoppedByString || progress.endedWithEos) finishReason = 'stop';
        else finishReason = 'length';
        return result(text, completionTokens, finishReason);
    }
}

/** The error for a prompt of `promptTokens` over an engine's limit (its own, or its model's context), or undefined when it fits. */
export function promptLimitError(promptTokens: number, engine: { maxPromptTokens: number; contextLength: number }): PromptTooLongError | undefined {
    if (promptTokens <= engine.maxPromptTokens) return undefined;
    const ofModel = engine.maxPromptTokens === engine.contextLength - 1;
    return new PromptTooLongError(promptTokens, engine.maxPromptTokens, 'tokens', ofModel ? "model's context" : 'configured limit');
}

/**
 * Turns a stream of token ids into text pieces that a full decode would produce. It decodes a
 * short window of recent tokens and emits the growth, holding back while the text ends in an
 * incomplete UTF-8 sequence (U+FFFD), so multi-byte characters split across byte tokens, and
 * tokenizers that merge spaces across tokens, come out exactly as in one decode at the end.
 */
export class IncrementalDetokenizer {
    private readonly ids: number[] = [];
    private prefixOffset = 0;
    private readOffset = 0;

    constructor(private readonly tokenizer: Pick<TokenizerView, 'decode'>) {}

    /** Adds a token; returns the text that became final (often one token's, sometimes ''). */
    push(token: number): string {
        this.ids.push(token);
        const before = this.decode(this.prefixOffset, this.readOffset);
        const now = this.decode(this.prefixOffset, this.ids.length);
        if (now.length > before.length && !now.endsWith('\uFFFD')) {
            this.prefixOffset = this.readOffset;
            this.readOffset = this.ids.length;
            return now.slice(before.length);
        }
        return '';
    }

    /** Whatever is still held back (an incomplete character at the very end, as U+FFFD). */
    finish(): string {
        const rest = this.decode(this.prefixOffset, this.ids.length).slice(this.decode(this.prefixOffset, this.readOffset).length);
        this.prefixOffset = this.readOffset = this.ids.length;
        return rest;
    }

    private decode(from: number, to: number): string {
        return from >= to ? '' : this.tokenizer.decode(this.ids.slice(from, to), { skip_special_tokens: true });
    }
}

/** One StoppingCriteria subclass per library instance (a class per request would defeat inline caches). */
const criterionClasses = new WeakMap<Lib, new (progress: GenerationProgress) => Transformers.StoppingCriteria>();
function progressCriterionClass(lib: Lib): new (progress: GenerationProgress) => Transformers.StoppingCriteria {
    let cls = criterionClasses.get(lib);
    if (!cls) {
        cls = class extends lib.StoppingCriteria {
            constructor(private readonly progress: GenerationProgress) {
                super();
            }
            _call(inputIds: number[][]): boolean[] {
                return inputIds.map(() => this.progress.shouldStop());
            }
        };
        criterionClasses.set(lib, cls);
    }
    return cls;
}

/**
 * Receives tokens from `generate()` (the library calls `put` with the prompt first, then each
 * new token) and decides when to stop. Text is decoded incrementally only when someone needs it
 * before the end (a token callback or stop strings); otherwise once, at the end.
 */
class GenerationProgress {
    readonly generated: number[] = [];
    private sawPrompt = false;
    private readonly detokenizer: IncrementalDetokenizer | null;
    private readonly matcher: StopStringMatcher | null;
    cancelled = false;
    timedOut = false;
    endedWithEos = false;
    callbackError: unknown = undefined;

    constructor(
        private readonly tokenizer: TokenizerView,
        stop: string[],
        private readonly onToken: CompletionRequest['onToken'],
        private readonly signal: AbortSignal | undefined,
        private readonly deadline: number,
        private readonly eosTokenIds: ReadonlySet<number>,
    ) {
        const incremental = onToken !== undefined || stop.length > 0;
        this.detokenizer = incremental ? new IncrementalDetokenizer(tokenizer) : null;
        this.matcher = incremental ? new StopStringMatcher(stop) : null;
    }

    get stoppedByString(): boolean {
        return this.matcher?.hasStopped ?? false;
    }

    put(value: bigint[][]): void {
        if (!this.sawPrompt) {
            this.sawPrompt = true;
            return;
        }
        const token = Number(value[0][0]);
        this.generated.push(token);
        if (this.eosTokenIds.has(token)) this.endedWithEos = true;
        if (this.detokenizer) this.emit(this.matcher!.push(this.detokenizer.push(token)));
    }

    end(): void {
        if (this.detokenizer && !this.stoppedByString) {
            this.emit(this.matcher!.push(this.detokenizer.finish()) + this.matcher!.flush());
        }
    }

    finalText(): string {
        return this.matcher ? this.matcher.finalText : this.tokenizer.decode(this.generated, { skip_special_tokens: true });
    }

    /** The stopping criterion handed to generate(): true once anything says stop. */
    criterion(lib: Lib): Transformers.StoppingCriteria {
        return new (progressCriterionClass(lib))(this);
    }

    /** Called by the stopping criterion after each token. */
        shouldStop(): boolean {
        if (this.callbackError !== undefined || this.stoppedByString || this.cancelled || this.timedOut) return true;
        if (this.signal?.aborted) return (this.cancelled = true);
        if (Date.now() >= this.deadline) return (this.timedOut = true);
        return false;
    }

    private emit(text: string): void {
        if (text === '' || !this.onToken || this.callbackError !== undefined) return;
        try {
            this.onToken({ text, completionTokens: this.generated.length });
        } catch (e) {
            this.callbackError = e;
        }
    }
}

function checkPositive(name: string, value: number | undefined): void {
    if (value !== undefined && !(Number.isSafeInteger(value) && value > 0)) {
        throw new InvalidRequestError(`${name} must be a positive integer, got ${String(value)}`);
    }
}

function firstPositiveInt(...values: unknown[]): number | undefined {
    for (const v of values) if (typeof v === 'number' && Number.isSafeInteger(v) && v > 0) return v;
    return undefined;
}

/** The files Transformers.js needs besides the weights, checked up front so errors name the file. */
async function checkModelFolder(folder: string): Promise<void> {
    const st = await fs.stat(folder);
    if (!st.isDirectory()) throw new ModelNotFoundError(`${folder} is not a folder: pass the folder holding config.json, the tokenizer and onnx/`);
    for (const file of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) {
        const text = await fs.readFile(path.join(folder, file), 'utf8').catch(() => null);
        if (text === null) throw new ModelFilesError(`model folder ${folder} has no ${file}: copy the model's complete folder`);
        try {
            JSON.parse(text);
        } catch (e) {
            throw new ModelFilesError(`${path.join(folder, file)} is not valid JSON (${(e as Error).message}): the file is corrupt, copy it again`);
        }
    }
    const onnx = await fs.readdir(path.join(folder, 'onnx')).catch(() => [] as string[]);
    if (!onnx.some((f) => f.endsWith('.onnx'))) {
        throw new ModelFilesError(`model folder ${folder} has no onnx/*.onnx weights: Transformers.js runs ONNX exports of models`);
    }
}

async function loadFromLibrary(
    lib: Lib,
    id: string,
    options: { device: EmbeddedDevice; dtype: EmbeddedDtype; threads?: number; local_files_only: boolean; cache_dir?: string; revision?: string },
    where: string,
): Promise<{ tokenizer: TokenizerView; languageModel: ModelView }> {
    let tokenizer: TokenizerView;
    try {
        tokenizer = (await lib.AutoTokenizer.from_pretrained(id, {
            local_files_only: options.local_files_only,
            cache_dir: options.cache_dir,
            revision: options.revision,
        })) as unknown as TokenizerView;
    } catch (e) {
        throw classifyLoadError(e, where, options.device);
    }
    try {
        const languageModel = (await lib.AutoModelForCausalLM.from_pretrained(id, {
            local_files_only: options.local_files_only,
            cache_dir: options.cache_dir,
            revision: options.revision,
            device: options.device,
            dtype: options.dtype,
            ...(options.threads ? { session_options: { intraOpNumThreads: options.threads } } : {}),
        })) as unknown as ModelView;
        return { tokenizer, languageModel };
    } catch (e) {
        throw classifyLoadError(e, where, options.device);
    }
}

async function loadFromHub(
    lib: Lib,
    hubId: string,
    options: { device: EmbeddedDevice; dtype: EmbeddedDtype; threads?: number; cacheDir: string; hubHost?: string; revision?: string },
): Promise<{ tokenizer: TokenizerView; languageModel: ModelView }> {
    const load = async () => {
        const saved = { allowRemoteModels: lib.env.allowRemoteModels, remoteHost: lib.env.remoteHost, useFSCache: lib.env.useFSCache };
        lib.env.allowRemoteModels = true;
        lib.env.useFSCache = true;
        if (options.hubHost) lib.env.remoteHost = options.hubHost.endsWith('/') ? options.hubHost : options.hubHost + '/';
        try {
            return await loadFromLibrary(
                lib,
                hubId,
                {
                    device: options.device,
                    dtype: options.dtype,
                    threads: options.threads,
                    local_files_only: false,
                    cache_dir: options.cacheDir,
                    revision: options.revision,
                },
                `${lib.env.remoteHost}${hubId}`,
            );
        } catch (e) {
            if (e instanceof InferenceError && !(e instanceof ModelFilesError)) throw e;
            throw new ModelNotFoundError(
                `could not fetch "${hubId}" from ${lib.env.remoteHost} (${(e as Error).message}): check the id and the network, ` +
                    'or download the model beforehand and pass its folder',
            );
        } finally {
            Object.assign(lib.env, saved);
        }
    };
    const run = hubLoadChain.then(load, load);
    hubLoadChain = run.catch(() => undefined);
    return run;
}

function classifyLoadError(e: unknown, where: string, device: EmbeddedDevice): InferenceError {
    if (e instanceof InferenceError) return e;
    const message = (e as Error)?.message ?? String(e);
    if (device !== 'cpu' && /execution ?provider|shared library|Unsupported device|backend/i.test(message)) {
        return new DeviceUnavailableError(`device "${device}" is not usable on this host: ${message}`, { cause: e });
    }
    if ((e as Error)?.name === 'ModelFileNotFoundError' || /not found locally|file was not found/i.test(message)) {
        return new ModelFilesError(`model ${where} is missing a file the library needs: ${message}`, { cause: e });
    }
    if (/Unsupported model type|model_type/i.test(message)) {
        return new ModelFilesError(`model ${where}: its config.json names a model type Transformers.js cannot run (${message})`, { cause: e });
    }
    if (/protobuf|Load model|onnx/i.test(message)) {
        return new ModelFilesError(`model ${where}: the ONNX weights are corrupt or incompatible (${message}); copy them again`, { cause: e });
    }
    return new ModelFilesError(`model ${where} could not be loaded: ${message}`, { cause: e });
}

/**
 * onnxruntime-node ships CPU (and WebGPU) only; its CUDA provider libraries come from NuGet at
 * install time, which our .npmrc skips. Check for them before asking ORT, whose own error is a
 * native log line plus "Failed to load shared library".
 */
function assertCudaProviderInstalled(): void {
    if (process.platform !== 'linux' || process.arch !== 'x64') {
        throw new DeviceUnavailableError(`device "cuda" is available only on linux/x64 hosts (this is ${process.platform}/${process.arch})`);
    }
    const ortRoot = path.resolve(path.dirname(require.resolve('onnxruntime-node')), '..');
    const bin = path.join(ortRoot, 'bin', 'napi-v6', 'linux', 'x64');
    const needed = ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'];
    const missing = needed.filter((f) => !existsSync(path.join(bin, f)));
    if (missing.length > 0) {
        throw new DeviceUnavailableError(
            `device "cuda" needs onnxruntime-node's CUDA provider, which is not installed (missing ${missing.join(', ')} in ${bin}): ` +
                'on the GPU host run `ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js` ' +
                '(needs CUDA 12 and cuDNN 9), or use device "cpu"',
        );
    }
}
