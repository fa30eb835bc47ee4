"""Is a secret still in a text, read every way an attacker could read it?"""

from __future__ import annotations

import base64
import re
import urllib.parse


def recoverable(text: str, key: str, window: int = 8) -> bool:
    """Does `text` hold `window` consecutive characters of `key`, read as it is, URL-decoded
    (once or twice), JSON-unescaped or base64-decoded (either alphabet, at each alignment)?"""
    readings = [text, urllib.parse.unquote(text), urllib.parse.unquote(urllib.parse.unquote(text))]
    unescaped = re.sub(r"\\+u([0-9a-fA-F]{4})", lambda m: chr(int(m[1], 16)), text)
    readings.append(re.sub(r"\\+(.)", r"\1", unescaped))
    for run in re.findall(r"[A-Za-z0-9+/_\-]{4,}", text):
        for start in range(4):
            piece = run[start:].replace("-", "+").replace("_", "/")
            piece = piece[: len(piece) - len(piece) % 4]
            readings.append(base64.b64decode(piece).decode("latin-1"))
    pieces = {key[i : i + window] for i in range(len(key) - window + 1)}
    return any(piece in reading for reading in readings for piece in pieces)
