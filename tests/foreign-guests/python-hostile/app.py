"""A hostile Python policy for the host's fail-closed tests (never shipped).

Settings `{"mode": "raise" | "loop" | "alloc" | "ok"}`; `check` then raises an uncaught
exception, spins forever, allocates until the memory cap, or returns no findings.
"""

import json

import wit_world
from componentize_py_types import Err
from wit_world.exports import module_info

MODES = ("raise", "loop", "alloc", "ok")


def _mode(settings: str) -> str:
    try:
        value = json.loads(settings or "{}")
    except ValueError as e:
        raise Err(f"invalid settings: {e}; write e.g. {{\"mode\": \"ok\"}}")
    mode = value.get("mode") if isinstance(value, dict) else None
    if mode not in MODES:
        raise Err(f"mode: {json.dumps(mode)} is not one of {', '.join(MODES)}; write e.g. {{\"mode\": \"ok\"}}")
    return mode


class WitWorld(wit_world.WitWorld):
    def validate_settings(self, settings: str) -> None:
        _mode(settings)

    def check(self, request):
        mode = _mode(request.settings)
        if mode == "raise":
            raise ValueError("boom from python: the policy could not decide")
        if mode == "loop":
            while True:
                pass
        if mode == "alloc":
            hoard = []
            while True:
                hoard.append(bytearray(1 << 20))
        return []


class ModuleInfo(wit_world.exports.ModuleInfo):
    def describe(self) -> module_info.Info:
        return module_info.Info("python-hostile", "0.1.0", "test only: raises, loops or exhausts memory in check")
