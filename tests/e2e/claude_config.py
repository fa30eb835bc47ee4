"""The config of a gateway serving Claude models by name from one Anthropic-type provider (the
mock provider over HTTP, which answers each model as Anthropic's API does), for the e2e tests
of what each Claude model takes."""

from __future__ import annotations

import hashlib


def claude_models_config(upstream: str, models: dict[str, str], key: str) -> str:
    """Provider `ant` at `upstream`, a model per `models` entry (name -> deployment model), and
    the gateway key `key`."""
    text = f'[[providers]]\nname = "ant"\ntype = "anthropic"\nbase_url = "{upstream}"\n\n'
    for name, model in models.items():
        text += f'[[models]]\nname = "{name}"\n'
        text += f'[[models.deployments]]\nprovider = "ant"\nmodel = "{model}"\n\n'
    return text + f'[[keys]]\nid = "k"\nkey_sha256 = "{hashlib.sha256(key.encode()).hexdigest()}"\n'
