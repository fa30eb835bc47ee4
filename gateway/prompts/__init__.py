"""Prompts as versioned artifacts (docs/prompts.md).

The registry is loaded with the config (`gateway.config.prompts`, types in
`gateway.config.prompt_types`). Here: which version a request gets (`select`), rendering it
strictly (`render`), putting it into the request body (`apply`), and the operator's commands
(`commands`: list, show, diff, promote; `promote` rewrites the file keeping its comments, under
its lock: `file_lock`).
"""
