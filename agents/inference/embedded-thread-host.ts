import { parentPort, workerData } from 'node:worker_threads';
import { EmbeddedEngine, EmbeddedEngineOptions } from './embedded';
import type { ThreadReply, ThreadRequest } from './embedded-thread';
import { serializeError } from './embedded-thread';

/**
 * The inference thread's side of ThreadedEmbeddedEngine: loads the model, answers token counts
 * and completions in arrival order (the engine queues generations), streams tokens back as they
 * come, and stops a generation when asked.
 */
const port = parentPort!;
const post = (reply: ThreadReply) => port.postMessage(reply);
const running = new Map<number, AbortController>();
let engine: EmbeddedEngine | undefined;

const loading = EmbeddedEngine.load(workerData.options as EmbeddedEngineOptions).then(
    (loaded) => {
        engine = loaded;
        post({
            type: 'loaded',
            info: {
                model: loaded.model,
                manifest: loaded.manifest,
                folder: loaded.folder,
                device: loaded.device,
                contextLength: loaded.contextLength,
                maxPromptTokens: loaded.maxPromptTokens,
            },
        });
    },
    (error: unknown) => post({ type: 'load-failed', error: serializeError(error) }),
);

port.on('message', (message: ThreadRequest) => {
    void loading.then(() => handle(message));
});

async function handle(message: ThreadRequest): Promise<void> {
    if (!engine) return;
    switch (message.type) {
        case 'count':
            try {
                post({ type: 'count', id: message.id, count: engine.promptTokenIds(message.messages).length });
            } catch (error) {
                post({ type: 'failed', id: message.id, error: serializeError(error) });
            }
            return;
        case 'complete': {
            const controller = new AbortController();
            running.set(message.id, controller);
            try {
                const result = await engine.complete({
                    ...message.request,
                    signal: controller.signal,
                    onToken: message.stream ? (chunk) => post({ type: 'token', id: message.id, chunk }) : undefined,
                });
                post({ type: 'result', id: message.id, result });
            } catch (error) {
                post({ type: 'failed', id: message.id, error: serializeError(error) });
            } finally {
                running.delete(message.id);
            }
            return;
        }
        case 'cancel':
            running.get(message.id)?.abort();
            return;
        case 'close':
            await engine.close();
            post({ type: 'closed' });
            return;
    }
}
