import fc from 'fast-check';
import { StopStringMatcher, validateRequest } from '../../agents/inference/engine';
import { EmptyPromptError, InvalidRequestError, PromptTooLongError } from '../../agents/inference/errors';

const limits = { maxPromptChars: 100 };
const user = (content: string) => [{ role: 'user', content }];

describe('request validation (shared by every engine)', () => {
    it('refuses an empty conversation and one whose messages are all blank', () => {
        expect(() => validateRequest({ messages: [] }, limits)).toThrow(EmptyPromptError);
        expect(() => validateRequest({ messages: [{ role: 'system', content: '' }, { role: 'user', content: '  \n' }] }, limits)).toThrow(
            EmptyPromptError,
        );
    });

    it('refuses a prompt over the character limit, saying how long it is', () => {
        const err = (() => {
            try {
                validateRequest({ messages: user('x'.repeat(101)) }, limits);
            } catch (e) {
                return e as PromptTooLongError;
            }
        })();
        expect(err).toBeInstanceOf(PromptTooLongError);
        expect(err).toMatchObject({ code: 'PROMPT_TOO_LONG', size: 101, limit: 100, unit: 'characters' });
        expect(() => validateRequest({ messages: user('x'.repeat(100)) }, limits)).not.toThrow();
    });

    it.each([
        [{ messages: 'hi' }, /messages must be an array/],
        [{ messages: [{ role: '', content: 'x' }] }, /role/],
        [{ messages: [{ role: 'user', content: 5 }] }, /content must be a string/],
        [{ messages: user('x'), maxTokens: 0 }, /maxTokens/],
        [{ messages: user('x'), maxTokens: 1.5 }, /maxTokens/],
        [{ messages: user('x'), temperature: -1 }, /temperature/],
        [{ messages: user('x'), topP: 0 }, /topP/],
        [{ messages: user('x'), timeoutMs: 0 }, /timeoutMs/],
        [{ messages: user('x'), stop: [''] }, /stop strings/],
        [{ messages: user('x'), stop: Array(17).fill('a') }, /at most 16/],
        [{ messages: user('x'), onToken: 'yes' }, /onToken/],
    ])('names the problem in %j', (request, message) => {
        expect(() => validateRequest(request as never, limits)).toThrow(InvalidRequestError);
        expect(() => validateRequest(request as never, limits)).toThrow(message);
    });

    it('returns stop strings as a list', () => {
        expect(validateRequest({ messages: user('x'), stop: 'END' }, limits).stop).toEqual(['END']);
        expect(validateRequest({ messages: user('x') }, limits).stop).toEqual([]);
    });
});

describe('stop strings while streaming', () => {
    it('ends before a stop string split across pieces and never emits any part of it', () => {
        const m = new StopStringMatcher(['END']);
        const emitted = ['abc', 'E', 'N', 'Dxyz'].map((p) => m.push(p));
        expect(emitted).toEqual(['abc', '', '', '']);
        expect(m.hasStopped).toBe(true);
        expect(m.finalText).toBe('abc');
    });

    it('releases held-back text once it can no longer start a stop string', () => {
        const m = new StopStringMatcher(['END']);
        expect(m.push('aE')).toBe('a');
        expect(m.push('Nd')).toBe('ENd');
        expect(m.push('E')).toBe('');
        expect(m.flush()).toBe('E');
        expect(m.hasStopped).toBe(false);
    });

    it('stops at whichever stop string comes first', () => {
        const m = new StopStringMatcher(['zz', 'b']);
        expect(m.push('azzb')).toBe('a');
        expect(m.finalText).toBe('a');
    });

    it('emits exactly the text before the first stop string, however the text is split (property)', () => {
        // As servers do: after each new piece, if any stop string occurs in the text so far, the
        // answer ends where the earliest occurring one starts.
        const oracle = (pieces: string[], stops: string[]) => {
            let text = '';
            for (const p of pieces) {
                text += p;
                const cuts = stops.map((s) => text.indexOf(s)).filter((i) => i !== -1);
                if (cuts.length) return { text: text.slice(0, Math.min(...cuts)), stopped: true };
            }
            return { text, stopped: false };
        };
        fc.assert(
            fc.property(
                fc.array(fc.string({ unit: fc.constantFrom('a', 'b', 'c'), maxLength: 4 }), { maxLength: 12 }),
                fc.array(fc.string({ unit: fc.constantFrom('a', 'b', 'c'), minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 3 }),
                (pieces, stops) => {
                    const expected = oracle(pieces, stops);
                    const m = new StopStringMatcher(stops);
                    let out = pieces.map((p) => m.push(p)).join('');
                    out += m.flush();
                    return out === expected.text && m.finalText === expected.text && m.hasStopped === expected.stopped;
                },
            ),
            { numRuns: 2000 },
        );
    });
});
