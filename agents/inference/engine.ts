import { EmptyPromptError, InvalidRequestError, PromptTooLongError } from './errors';

/**
 * The one interface the worker runs inference through. Two implementations: the embedded
 * Transformers.js engine (`embedded.ts`) and the OpenAI-compatible HTTP backend
 * (`openai-compatible.ts`, for vLLM, SGLang, llama.cpp server, Ollama).
 */
export interface InferenceEngine {
    readonly kind: 'embedded' | 'openai-compatible';
    /** The model name reported in answers (a folder name, or the server's model id). */
    readonly model: string;
    /** The model identity (sha256 of its file manifest, see model-identity.ts), lowercase hex. */
    readonly modelHash: string;
    /** Runs one chat completion. Resolves with finishReason 'cancelled' when `signal` aborts. */
    complete(request: CompletionRequest): Promise<CompletionResult>;
    /** Frees the model (embedded) or idle connections (HTTP). Later calls fail with EngineClosedError. */
    close(): Promise<void>;
}

export interface ChatMessage {
    /** `system`, `user`, `assistant`, `tool`, `developer`, or any role the model's template knows. */
    role: string;
    content: string;
}

export type FinishReason = 'stop' | 'length' | 'cancelled';

export interface CompletionRequest {
    messages: ChatMessage[];
    /** Most completion tokens to generate. Default: the engine's default, capped by the model's context. */
    maxTokens?: number;
    /** Generation ends before the first occurrence of any of these strings, which are left out of the text. */
    stop?: string | string[];
    /** 0 or absent: greedy decoding (reproducible). Above 0: sampling. */
    temperature?: number;
    topP?: number;
    /** Called with each new piece of text as soon as it is final (per token, not per word). */
    onToken?: (chunk: TokenChunk) => void;
    /** Aborting ends generation at the next token: the result has finishReason 'cancelled'. */
    signal?: AbortSignal;
    /** Wall-clock limit for the whole request; past it the request fails with InferenceTimeoutError. */
    timeoutMs?: number;
}

export interface TokenChunk {
    /** New text since the previous chunk (never part of a stop string). */
    text: string;
    /** Completion tokens generated so far, including this chunk's. */
    completionTokens: number;
}

export interface Usage {
    promptTokens: number;
    /** Generated tokens, including reasoning tokens and a final end-of-sequence token. */
    completionTokens: number;
    totalTokens: number;
    /** Prompt tokens served from a prefix cache, where the backend reports it. */
    cachedPromptTokens?: number;
    /** Part of completionTokens spent on reasoning, where the backend reports it. */
    reasoningTokens?: number;
    /**
     * `counted`: our own tokenizer counted every token (embedded engine, exact).
     * `reported`: the server's usage block. `estimated`: the server sent no usage (e.g. a stream
     * cancelled before its usage chunk); completionTokens is the number of streamed chunks.
     */
    source: 'counted' | 'reported' | 'estimated';
}

export interface CompletionResult {
    text: string;
    /** Reasoning text, when the backend separates it from the answer. */
    reasoning?: string;
    finishReason: FinishReason;
    usage: Usage;
    model: string;
    modelHash: string;
}

/** Limits that apply before a request reaches a model. */
export interface RequestLimits {
    /** Most characters of message content in one request; guards tokenizers from huge inputs. */
    maxPromptChars: number;
}

export const DEFAULT_MAX_PROMPT_CHARS = 1_000_000;
const MAX_STOP_STRINGS = 16;

/**
 * Checks a request's shape and limits, and returns its stop strings as an array.
 * Throws EmptyPromptError, PromptTooLongError or InvalidRequestError.
 */
export function validateRequest(request: CompletionRequest, limits: RequestLimits): { stop: string[] } {
    if (request === null || typeof request !== 'object') throw new InvalidRequestError('the request must be an object with a messages array');
    const { messages } = request;
    if (!Array.isArray(messages)) throw new InvalidRequestError('messages must be an array of {role, content}');
    if (messages.length === 0) throw new EmptyPromptError('the prompt is empty: messages has no entries');
    let chars = 0;
    messages.forEach((m, i) => {
        if (m === null || typeof m !== 'object') throw new InvalidRequestError(`messages[${i}] must be an object with role and content`);
        if (typeof m.role !== 'string' || m.role.trim() === '') throw new InvalidRequestError(`messages[${i}].role must be a non-empty string`);
        if (typeof m.content !== 'string') throw new InvalidRequestError(`messages[${i}].content must be a string`);
        chars += m.content.length;
    });
    if (messages.every((m) => m.content.trim() === '')) {
        throw new EmptyPromptError('the prompt is empty: every message has empty content');
    }
    if (chars > limits.maxPromptChars) throw new PromptTooLongError(chars, limits.maxPromptChars, 'characters', 'limit per request');

    const { maxTokens, temperature, topP, timeoutMs, onToken, signal } = request;
    if (maxTokens !== undefined && !(Number.isSafeInteger(maxTokens) && maxTokens > 0)) {
        throw new InvalidRequestError(`maxTokens must be a positive integer, got ${String(maxTokens)}`);
    }
    if (temperature !== undefined && !(typeof temperature === 'number' && temperature >= 0 && temperature <= 100)) {
        throw new InvalidRequestError(`temperature must be a number from 0 to 100, got ${String(temperature)}`);
    }
    if (topP !== undefined && !(typeof topP === 'number' && topP > 0 && topP <= 1)) {
        throw new InvalidRequestError(`topP must be in (0, 1], got ${String(topP)}`);
    }
    if (timeoutMs !== undefined && !(typeof timeoutMs === 'number' && timeoutMs > 0 && Number.isFinite(timeoutMs))) {
        throw new InvalidRequestError(`timeoutMs must be a positive number of milliseconds, got ${String(timeoutMs)}`);
    }
    if (onToken !== undefined && typeof onToken !== 'function') throw new InvalidRequestError('onToken must be a function');
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw new InvalidRequestError('signal must be an AbortSignal');

    const stop = request.stop === undefined ? [] : Array.isArray(request.stop) ? request.stop : [request.stop];
    if (stop.length > MAX_STOP_STRINGS) throw new InvalidRequestError(`at most ${MAX_STOP_STRINGS} stop strings, got ${stop.length}`);
    for (const s of stop) {
        if (typeof s !== 'string' || s.length === 0) throw new InvalidRequestError('stop strings must be non-empty strings');
    }
    return { stop };
}

/**
 * Watches generated text for stop strings (OpenAI semantics: the answer ends before the first
 * stop string, which is not returned) while text streams: text that could still turn out to be
 * the start of a stop string is held back until it cannot.
 */
export class StopStringMatcher {
    private text = '';
    private released = 0;
    private stopped = false;
    private readonly longest: number;

    constructor(private readonly stops: string[]) {
        this.longest = stops.reduce((n, s) => Math.max(n, s.length), 0);
    }

    get hasStopped(): boolean {
        return this.stopped;
    }

    /** The answer so far (up to the stop string once one matched). */
    get finalText(): string {
        return this.text;
    }

    /** Adds new text; returns the part that is now safe to emit. */
    push(piece: string): string {
        if (this.stopped || piece === '') return '';
        const searchFrom = Math.max(0, this.text.length - this.longest + 1);
        this.text += piece;
        if (this.stops.length === 0) return this.release(this.text.length);
        let cut = -1;
        for (const s of this.stops) {
            const at = this.text.indexOf(s, searchFrom);
            if (at !== -1 && (cut === -1 || at < cut)) cut = at;
        }
        if (cut !== -1) {
            this.text = this.text.slice(0, cut);
            this.stopped = true;
            return this.release(cut);
        }
        return this.release(this.text.length - this.heldBack());
    }

    /** Releases everything still held back (generation ended without a stop string). */
    flush(): string {
        return this.release(this.text.length);
    }

    /** Length of the longest suffix of the text that is a proper prefix of some stop string. */
    private heldBack(): number {
        const max = Math.min(this.longest - 1, this.text.length);
        for (let n = max; n > 0; n--) {
            const tail = this.text.slice(this.text.length - n);
            if (this.stops.some((s) => s.startsWith(tail))) return n;
        }
        return 0;
    }

    private release(upTo: number): string {
        if (upTo <= this.released) return '';
        const out = this.text.slice(this.released, upTo);
        this.released = upTo;
        return out;
    }
}
