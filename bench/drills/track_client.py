#!/usr/bin/env python3
"""Open-loop chat-completion client for the gateway-kill drill that records, per request, its
Idempotency-Key (the ledger's event id) and whether the client received the whole response.

One line per request in --out: index event_id stream status done_seen complete
  done_seen: a stream delivered its `data: [DONE]` event (a plain response: 0)
  complete:  the client read the whole HTTP response (plain: the full JSON body with usage;
             stream: [DONE] and the end of the chunked body) without an error
"""
import argparse, http.client, json, threading, time

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--keys", required=True)
    ap.add_argument("--rate", type=float, default=100)
    ap.add_argument("--duration", type=float, default=25)
    ap.add_argument("--stream-every", type=int, default=5, help="every n-th request streams")
    ap.add_argument("--threads", type=int, default=48)
    ap.add_argument("--run", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    keys = [l.strip() for l in open(a.keys) if l.strip()]
    total = int(a.rate * a.duration)
    start = time.monotonic() + 0.2
    lock = threading.Lock()
    nxt = [0]
    out = open(a.out, "w")

    def worker():
        conn = None
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= total:
                break
            due = start + i / a.rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            stream = a.stream_every > 0 and i % a.stream_every == 0
            eid = f"{a.run}-{i}"
            # "user" names the request to the upstream: the simulator's request log lists it.
            body = {"model": "pro", "max_tokens": 16, "user": eid,
                    "messages": [{"role": "user", "content": f"drill request {i % 64}"}]}
            if stream:
                body["stream"] = True
            status, done, complete = 0, 0, 0
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=10)
                conn.request("POST", "/v1/chat/completions", body=json.dumps(body), headers={
                    "Authorization": "Bearer " + keys[i % len(keys)], "Content-Type": "application/json",
                    "Idempotency-Key": eid})
                resp = conn.getresponse()
                status = resp.status
                if stream:
                    while True:
                        line = resp.readline()
                        if not line:
                            break
                        if line.strip() == b"data: [DONE]":
                            done = 1
                    complete = 1 if (status == 200 and done) else 0
                else:
                    data = resp.read()
                    if status == 200 and "usage" in json.loads(data):
                        complete = 1
                if resp.will_close:
                    conn.close()
                    conn = None
            except Exception:
                if conn is not None:
                    conn.close()
                conn = None
            with lock:
                out.write(f"{i} {eid} {int(stream)} {status} {done} {complete}\n")

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(a.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.close()

if __name__ == "__main__":
    main()
