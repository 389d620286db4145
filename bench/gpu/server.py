#!/usr/bin/env python3
"""A minimal OpenAI-compatible inference server on a CUDA GPU, for bench/gpu (issue 7's GPU section).

vLLM cannot be installed on the lent GPU machine (no package registry there, and none of PyPI from
our machines), so this stands in for "the inference server the GPU owner already runs": PyTorch +
Hugging Face transformers, a Llama model of Llama-3.2-1B's shape (16 layers, d=2048, GQA 32/8,
vocab 128 256) in bf16 with seeded random weights (no weights can be downloaded there either).
Compute per token is that of the real 1B model; the text is not meaningful. Prompts are encoded
byte by byte; a generated id is shown as one printable character (32 + id mod 95). Greedy, no EOS:
exactly max_tokens tokens, so both paths of the benchmark do the same work.

Serves POST /v1/chat/completions (stream or not, with usage; stream_options.include_usage) and
GET /v1/models, one generation at a time (a lock), like a single-sequence server.
"""
import argparse, json, threading, time, sys, os
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler

import torch
from transformers import LlamaConfig, LlamaForCausalLM

p = argparse.ArgumentParser()
p.add_argument('--port', type=int, default=8000)
p.add_argument('--model-name', default='llama-1b-shape-random')
p.add_argument('--layers', type=int, default=16)
p.add_argument('--hidden', type=int, default=2048)
p.add_argument('--intermediate', type=int, default=8192)
p.add_argument('--heads', type=int, default=32)
p.add_argument('--kv-heads', type=int, default=8)
p.add_argument('--vocab', type=int, default=128256)
p.add_argument('--model-dir', default=None, help='write the config here (the identity the worker declares)')
args = p.parse_args()

torch.manual_seed(1234)
config = LlamaConfig(vocab_size=args.vocab, hidden_size=args.hidden, intermediate_size=args.intermediate,
                     num_hidden_layers=args.layers, num_attention_heads=args.heads, num_key_value_heads=args.kv_heads,
                     max_position_embeddings=8192, tie_word_embeddings=True)
with torch.device('cuda'):
    model = LlamaForCausalLM(config).to(dtype=torch.bfloat16).eval()
params = sum(p.numel() for p in model.parameters())
if args.model_dir:
    os.makedirs(args.model_dir, exist_ok=True)
    config.save_pretrained(args.model_dir)
    with open(os.path.join(args.model_dir, 'SEED'), 'w') as f:
        f.write('torch.manual_seed(1234); LlamaForCausalLM(config) in bf16\n')
lock = threading.Lock()


def encode(messages):
    text = ''.join(f"{m.get('role')}: {m.get('content')}\n" for m in messages) + 'assistant: '
    return list(text.encode('utf-8'))


@torch.inference_mode()
def generate(ids, max_tokens, on_token):
    x = torch.tensor([ids], device='cuda')
    out = model(input_ids=x, use_cache=True)
    for i in range(max_tokens):
        nxt = out.logits[:, -1, :].argmax(-1)
        tok = int(nxt.item())  # synchronises: the token exists on the host when on_token runs
        on_token(chr(32 + tok % 95))
        if i + 1 < max_tokens:
            out = model(input_ids=nxt.view(1, 1), past_key_values=out.past_key_values, use_cache=True)


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *a):
        pass

    def setup(self):
        super().setup()
        # Token-sized writes must leave at once, as uvicorn (vLLM, SGLang) sends them: without
        # TCP_NODELAY, Nagle's algorithm holds each one until the client's delayed ACK.
        import socket
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send_json(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header('content-type', 'application/json')
        self.send_header('content-length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.rstrip('/') == '/v1/models':
            return self.send_json(200, {'object': 'list', 'data': [{'id': args.model_name, 'object': 'model', 'owned_by': 'bench'}]})
        if self.path == '/health':
            return self.send_json(200, {'ok': True, 'params': params})
        self.send_json(404, {'error': {'message': 'not found', 'type': 'invalid_request_error'}})

    def do_POST(self):
        if self.path.rstrip('/') != '/v1/chat/completions':
            return self.send_json(404, {'error': {'message': 'not found', 'type': 'invalid_request_error'}})
        body = json.loads(self.rfile.read(int(self.headers.get('content-length', '0'))) or b'{}')
        ids = encode(body.get('messages', []))
        max_tokens = int(body.get('max_tokens') or 64)
        created = int(time.time())
        rid = f'chatcmpl-{time.time_ns()}'
        usage = {'prompt_tokens': len(ids), 'completion_tokens': max_tokens, 'total_tokens': len(ids) + max_tokens}
        if body.get('stream'):
            self.send_response(200)
            self.send_header('content-type', 'text/event-stream')
            self.send_header('cache-control', 'no-cache')
            self.send_header('transfer-encoding', 'chunked')
            self.end_headers()

            def chunk(obj):
                data = b'data: ' + json.dumps(obj).encode() + b'\n\n'
                self.wfile.write(f'{len(data):x}\r\n'.encode() + data + b'\r\n')
                self.wfile.flush()

            def on_token(piece):
                chunk({'id': rid, 'object': 'chat.completion.chunk', 'created': created, 'model': args.model_name,
                       'choices': [{'index': 0, 'delta': {'content': piece}, 'finish_reason': None}]})
            with lock:
                t0 = time.perf_counter()
                generate(ids, max_tokens, on_token)
                print(json.dumps({'stream': True, 'prompt': len(ids), 'tokens': max_tokens, 'ms': round((time.perf_counter() - t0) * 1000, 1)}), flush=True)
            chunk({'id': rid, 'object': 'chat.completion.chunk', 'created': created, 'model': args.model_name,
                   'choices': [{'index': 0, 'delta': {}, 'finish_reason': 'length'}]})
            if (body.get('stream_options') or {}).get('include_usage'):
                chunk({'id': rid, 'object': 'chat.completion.chunk', 'created': created, 'model': args.model_name, 'choices': [], 'usage': usage})
            data = b'data: [DONE]\n\n'
            self.wfile.write(f'{len(data):x}\r\n'.encode() + data + b'\r\n0\r\n\r\n')
            self.wfile.flush()
        else:
            pieces = []
            with lock:
                t0 = time.perf_counter()
                generate(ids, max_tokens, pieces.append)
                print(json.dumps({'stream': False, 'prompt': len(ids), 'tokens': max_tokens, 'ms': round((time.perf_counter() - t0) * 1000, 1)}), flush=True)
            self.send_json(200, {'id': rid, 'object': 'chat.completion', 'created': created, 'model': args.model_name,
                                 'choices': [{'index': 0, 'message': {'role': 'assistant', 'content': ''.join(pieces)}, 'finish_reason': 'length'}],
                                 'usage': usage})


# Warm up (CUDA context, kernels) before accepting requests.
generate(encode([{'role': 'user', 'content': 'warm up'}]), 8, lambda s: None)
torch.cuda.synchronize()
server = ThreadingHTTPServer(('127.0.0.1', args.port), Handler)
print(json.dumps({'listening': args.port, 'params': params, 'device': torch.cuda.get_device_name(0)}), flush=True)
server.serve_forever()
