"""The action server registers exactly the actions the domain names."""

from __future__ import annotations

from rasa_sdk.executor import ActionExecutor


def test_every_domain_action_is_served(domain):
    executor = ActionExecutor()
    executor.register_package("actions")
    served = set(executor.actions)
    wanted = {a for a in domain["actions"]}
    assert wanted <= served, f"not served: {sorted(wanted - served)}"
    assert not (served - wanted), f"served but not in the domain: {sorted(served - wanted)}"


def test_no_customer_wording_in_python():
    """Actions answer with domain responses (response=...), never with literal text."""
    import ast
    from pathlib import Path

    for path in Path(__file__).resolve().parents[2].joinpath("actions").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "utter_message":
                keywords = {k.arg for k in node.keywords}
                assert "text" not in keywords and "response" in keywords, f"{path.name}:{node.lineno}"
