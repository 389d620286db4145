import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { EmbeddedDevice, EmbeddedEngineOptions } from './embedded';
import { ChatMessage, CompletionRequest, CompletionResult, DEFAULT_MAX_PROMPT_CHARS, InferenceEngine, TokenChunk, validateRequest } from './engine';
import * as errors from './errors';
import { EngineClosedError, ModelRuntimeError } from './errors';
import type { ModelManifest } from './model-identity';

/**
 * The embedded engine (embedded.ts) in a thread of its own. ONNX Runtime and Transformers.js's
 * generate loop run synchronously on the thread that calls them; in the worker agent that thread
 * is also the one serving HTTP, checking signatures and journalling, so the model and the agent's
 * work would take turns. Here the model has its own thread (and its own copy of the library:
 * the agent's thread never loads Transformers.js), and the agent prepares the next job while the
 * model generates the current one.
 *
 * Same behaviour as EmbeddedEngine: requests run one at a time in arrival order, tokens stream,
 * errors are the same classes (rebuilt from the thread's), token counts are exact. Cancelling
 * resolves at once with what streamed so far; the thread stops the generation at its next token.
 */
export interface ThreadInfo {
    model: string;
    manifest: ModelManifest;
    folder: string;
    device: EmbeddedDevice;
    contextLength: number;
    maxPromptTokens: number;
}

type SerializedError = { name: string; message: string; fields: Record<string, unknown> };

type ThreadCompletionRequest = Omit<CompletionRequest, 'onToken' | 'signal'>;

export type ThreadRequest =
    | { type: 'count'; id: number; messages: ChatMessage[] }
    | { type: 'complete'; id: number; request: ThreadCompletionRequest; stream: boolean }
    | { type: 'cancel'; id: number }
    | { type: 'close' };

export type ThreadReply =
    | { type: 'loaded'; info: ThreadInfo }
    | { type: 'load-failed'; error: SerializedError }
    | { type: 'count'; id: number; count: number }
    | { type: 'token'; id: number; chunk: TokenChunk }
    | { type: 'result'; id: number; result: CompletionResult }
    | { type: 'failed'; id: number; error: SerializedError }
    | { type: 'closed' };

/** An error as it crosses the thread boundary: its class name, message and own fields (code, partial, size, ...). */
export function serializeError(error: unknown): SerializedError {
    if (!(error instanceof Error)) return { name: 'Error', message: String(error), fields: {} };
    const fields: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(error)) {
        if (key === 'cause' || typeof value === 'function') continue;
        try {
            structuredClone(value);
            fields[key] = value;
        } catch {
            /* not clonable: left out */
        }
    }
    return { name: error.name, message: error.message, fields };
}

const ERROR_CLASSES: Record<string, new (...args: never[]) => Error> = Object.fromEntries(
    Object.entries(errors).filter(([, value]) => typeof value === 'function' && (value === errors.InferenceError || value.prototype instanceof errors.InferenceError)),
) as Record<string, new (...args: never[]) => Error>;

/** The same error class, message and fields on this side of the boundary. */
export function reviveError(serialized: SerializedError): Error {
    const cls = ERROR_CLASSES[serialized.name] ?? Error;
    const error = Object.create(cls.prototype) as Error;
    Object.defineProperty(error, 'message', { value: serialized.message, writable: true, configurable: true });
    Object.assign(error, serialized.fields);
    error.name = serialized.name;
    Error.captureStackTrace(error, reviveError);
    return error;
}

interface Pending {
    resolve: (value: never) => void;
    reject: (error: Error) => void;
    onToken?: (chunk: TokenChunk) => void;
    /** What streamed so far (the answer of a cancelled request). */
    streamed?: { text: string; completionTokens: number };
    callbackError?: unknown;
}

export class ThreadedEmbeddedEngine implements InferenceEngine {
    readonly kind = 'embedded' as const;
    private readonly pending = new Map<number, Pending>();
    private nextId = 1;
    private closed = false;
    private stopped: Error | undefined;
    private closing: Promise<void> | undefined;

    private constructor(
        private readonly thread: Worker,
        private readonly info: ThreadInfo,
        private readonly maxPromptChars: number,
    ) {
        thread.on('message', (reply: ThreadReply) => this.onReply(reply));
        thread.on('error', (error) => this.onStopped(new ModelRuntimeError(`the inference thread failed: ${error.message}`, { cause: error })));
        thread.on('exit', (code) => this.onStopped(new ModelRuntimeError(`the inference thread stopped (exit code ${code})`)));
    }

    get model(): string {
        return this.info.model;
    }
    get modelHash(): string {
        return this.info.manifest.hash;
    }
    get manifest(): ModelManifest {
        return this.info.manifest;
    }
    get folder(): string {
        return this.info.folder;
    }
    get device(): EmbeddedDevice {
        return this.info.device;
    }
    get contextLength(): number {
        return this.info.contextLength;
    }
    /** Most prompt tokens a request may have (after the chat template). */
    get maxPromptTokens(): number {
        return this.info.maxPromptTokens;
    }

    /** Loads the model in a new thread. Throws what EmbeddedEngine.load throws. */
    static async load(options: EmbeddedEngineOptions): Promise<ThreadedEmbeddedEngine> {
        const thread = new Worker(join(__dirname, 'embedded-thread-entry.js'), { workerData: { options } });
        let onMessage: (reply: ThreadReply) => void = () => undefined;
        let onError: (error: Error) => void = () => undefined;
        let onExit: (code: number) => void = () => undefined;
        const info = await new Promise<ThreadInfo>((resolve, reject) => {
            onMessage = (reply) => {
                if (reply.type === 'loaded') resolve(reply.info);
                else if (reply.type === 'load-failed') reject(reviveError(reply.error));
            };
            onError = (error) => reject(new ModelRuntimeError(`the inference thread failed while loading the model: ${error.message}`, { cause: error }));
            onExit = (code) => reject(new ModelRuntimeError(`the inference thread stopped while loading the model (exit code ${code})`));
            thread.on('message', onMessage).on('error', onError).on('exit', onExit);
        })
            .catch(async (error: unknown) => {
                await thread.terminate();
                throw error;
            })
            .finally(() => thread.off('message', onMessage).off('error', onError).off('exit', onExit));
        return new ThreadedEmbeddedEngine(thread, info, options.maxPromptChars ?? DEFAULT_MAX_PROMPT_CHARS);
    }

    /** Prompt tokens of a conversation after the chat template: what `complete` will count. */
    promptTokenCount(messages: ChatMessage[]): Promise<number> {
        return this.call<number>({ type: 'count', messages: plainMessages(messages) }).answer;
    }

    async complete(request: CompletionRequest): Promise<CompletionResult> {
        validateRequest(request, { maxPromptChars: this.maxPromptChars });
        const { onToken, signal, ...rest } = request;
        if (signal?.aborted) return this.cancelledResult('', 0);
        const { id, answer: result } = this.call<CompletionResult>({ type: 'complete', request: { ...rest, messages: plainMessages(rest.messages) }, stream: onToken !== undefined }, onToken);
        if (!signal) return result;
        const onAbort = () => {
            const pending = this.pending.get(id);
            if (!pending) return;
            this.pending.delete(id);
            this.thread.postMessage({ type: 'cancel', id } satisfies ThreadRequest);
            pending.resolve(this.cancelledResult(pending.streamed?.text ?? '', pending.streamed?.completionTokens ?? 0) as never);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        return result.finally(() => signal.removeEventListener('abort', onAbort));
    }

    /** Finishes the requests already taken, then frees the model and ends the thread. */
    close(): Promise<void> {
        if (this.closing) return this.closing;
        this.closed = true;
        this.closing = (async () => {
            if (!this.stopped) {
                const closed = new Promise<void>((resolve) => {
                    const onMessage = (reply: ThreadReply) => reply.type === 'closed' && resolve();
                    this.thread.on('message', onMessage);
                    this.thread.once('exit', () => resolve());
                });
                this.thread.postMessage({ type: 'close' } satisfies ThreadRequest);
                await closed;
            }
            await this.thread.terminate();
        })();
        return this.closing;
    }

    /** Sends a request to the thread; `id` names it in the replies (and in a cancel). */
    private call<T>(
        message: { type: 'count'; messages: ChatMessage[] } | { type: 'complete'; request: ThreadCompletionRequest; stream: boolean },
        onToken?: (chunk: TokenChunk) => void,
    ): { id: number; answer: Promise<T> } {
        const id = this.nextId++;
        if (this.closed) return { id, answer: Promise.reject(new EngineClosedError()) };
        if (this.stopped) return { id, answer: Promise.reject(this.stopped) };
        const answer = new Promise<T>((resolve, reject) => {
            this.pending.set(id, { resolve: resolve as (value: never) => void, reject, onToken });
            this.thread.postMessage({ ...message, id } as ThreadRequest);
        });
        return { id, answer };
    }

    private onReply(reply: ThreadReply): void {
        if (reply.type === 'loaded' || reply.type === 'load-failed' || reply.type === 'closed') return;
        const pending = this.pending.get(reply.id);
        if (!pending) return; // cancelled: its answer came after it resolved
        switch (reply.type) {
            case 'token':
                pending.streamed = { text: (pending.streamed?.text ?? '') + reply.chunk.text, completionTokens: reply.chunk.completionTokens };
                if (pending.callbackError !== undefined) return;
                try {
                    pending.onToken?.(reply.chunk);
                } catch (error) {
                    // As in EmbeddedEngine: a throwing callback stops the generation and fails the request.
                    pending.callbackError = error;
                    this.thread.postMessage({ type: 'cancel', id: reply.id } satisfies ThreadRequest);
                }
                return;
            case 'count':
                this.pending.delete(reply.id);
                pending.resolve(reply.count as never);
                return;
            case 'result':
                this.pending.delete(reply.id);
                if (pending.callbackError !== undefined) pending.reject(pending.callbackError as Error);
                else pending.resolve(reply.result as never);
                return;
            case 'failed':
                this.pending.delete(reply.id);
                pending.reject(pending.callbackError !== undefined ? (pending.callbackError as Error) : reviveError(reply.error));
                return;
        }
    }

    private onStopped(error: Error): void {
        if (this.stopped) return;
        this.stopped = this.closed ? new EngineClosedError() : error;
        for (const pending of this.pending.values()) pending.reject(this.stopped);
        this.pending.clear();
    }

    private cancelledResult(text: string, completionTokens: number): CompletionResult {
        return {
            text,
            finishReason: 'cancelled',
            usage: { promptTokens: 0, completionTokens, totalTokens: completionTokens, source: 'counted' },
            model: this.model,
            modelHash: this.modelHash,
        };
    }
}

/** Only role and content cross to the thread (a caller's message objects may carry more, and not all of it clones). */
function plainMessages(messages: ChatMessage[]): ChatMessage[] {
    return messages.map((m) => ({ role: m.role, content: m.content }));
}
