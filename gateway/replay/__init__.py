"""Replay logged requests against another model and report how the answers compare.

    (the request log is read by gateway.observability.log_reader, shared with `gateway stats`)
    answers   the answer, usage and intent (JSON? tools?) in OpenAI, Anthropic and stream shapes
    scorers   exact match, token-F1 similarity, JSON validity, tool-call agreement (pure)
    judge     the LLM-as-judge request and a lenient reader of its score
    target    where requests go: an in-process gateway or one at a URL
    runner    bounded-concurrency replay, one `Row` per record
    report    rows -> summary -> report.json;  html + charts -> report.html
    gate      the `--gate` expression language (no eval)
    command   `gateway replay` flags -> exit code

See docs/replay.md.
"""
