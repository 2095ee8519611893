"""Reading settings JSON, with the messages of policies/sdk/src/settings.rs."""

from __future__ import annotations

import json
from typing import Any, Dict, Iterable


class SettingsError(ValueError):
    """Settings the policy refuses; the message names the field, the bad value and the fix."""


def show(value: Any) -> str:
    """A settings value as the user wrote it (JSON)."""
    return json.dumps(value, ensure_ascii=False)


def parse_settings_object(settings: str, example: str = "{}") -> Dict[str, Any]:
    """The settings text as a JSON object; empty text means `{}` (all defaults)."""
    text = settings if settings.strip() else "{}"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise SettingsError(
            f"invalid settings: {e}; settings must be one JSON object, e.g. {example}"
        ) from None
    if not isinstance(value, dict):
        raise SettingsError(
            f"invalid settings: {show(value)} is not a JSON object; write the fields by name, "
            f"e.g. {example}"
        )
    return value


def reject_unknown_fields(obj: Dict[str, Any], known: Iterable[str], example: str) -> None:
    """A typo is an error, never silently ignored."""
    known = list(known)
    for key, value in obj.items():
        if key not in known:
            raise SettingsError(
                f"{key}: unknown field (value {show(value)}); the fields are "
                f"{', '.join(known)}; remove it or fix its name, e.g. {example}"
            )
