"""selector_matches and requirement_matches, the cases of policies/sdk/src/selectors.rs and more."""

import pytest

from tke_recycle_sdk import LabelSelector, SelectorRequirement, requirement_matches, selector_matches


class Label:  # a binding-shaped label, to show list<label> works as well as a dict
    def __init__(self, key, value):
        self.key, self.value = key, value


def req(key, operator, *values):
    return SelectorRequirement(key, operator, list(values))


WEB = {"app": "web", "tier": "front"}


@pytest.mark.parametrize(
    "requirement, labels, matches",
    [
        pytest.param(req("app", "In", "web", "api"), WEB, True, id="in_holds_for_a_listed_value"),
        pytest.param(req("app", "In", "db"), WEB, False, id="in_fails_for_an_unlisted_value"),
        pytest.param(req("zone", "In", "a"), WEB, False, id="in_fails_for_an_absent_key"),
        pytest.param(req("app", "NotIn", "db"), WEB, True, id="not_in_holds_for_an_unlisted_value"),
        pytest.param(req("app", "NotIn", "web"), WEB, False, id="not_in_fails_for_a_listed_value"),
        pytest.param(req("zone", "NotIn", "a"), WEB, True, id="not_in_holds_for_an_absent_key"),
        pytest.param(req("app", "Exists"), WEB, True, id="exists_holds_for_a_present_key"),
        pytest.param(req("zone", "Exists"), WEB, False, id="exists_fails_for_an_absent_key"),
        pytest.param(req("zone", "DoesNotExist"), WEB, True, id="does_not_exist_holds_for_an_absent_key"),
        pytest.param(req("app", "DoesNotExist"), WEB, False, id="does_not_exist_fails_for_a_present_key"),
        pytest.param(req("gen", "Gt", "4"), {"gen": "5"}, True, id="gt_compares_integers"),
        pytest.param(req("gen", "Lt", "4"), {"gen": "5"}, False, id="lt_compares_integers"),
        pytest.param(req("name", "Gt", "1"), {"name": "x"}, False, id="gt_fails_for_a_non_integer"),
        pytest.param(req("gen", "Gt", "1", "2"), {"gen": "5"}, False, id="gt_needs_exactly_one_value"),
        pytest.param(req("app", "In", "web"), [Label("app", "web"), Label("app", "db")], True, id="list_of_labels_first_wins"),
    ],
)
def test_requirement(requirement, labels, matches):
    assert requirement_matches(requirement, labels) is matches


@pytest.mark.parametrize(
    "selector, labels, matches",
    [
        pytest.param(LabelSelector(), {}, True, id="empty_selector_matches_everything"),
        pytest.param(LabelSelector({"app": "web"}), WEB, True, id="match_labels_subset"),
        pytest.param(LabelSelector({"app": "web", "tier": "back"}), WEB, False, id="every_match_label_must_hold"),
        pytest.param(LabelSelector({"app": "web"}, [req("tier", "In", "front")]), WEB, True, id="labels_and_expressions"),
        pytest.param(LabelSelector({"app": "web"}, [req("tier", "NotIn", "front")]), WEB, False, id="an_expression_failing_fails_the_selector"),
        pytest.param(LabelSelector({"app": "web"}), {}, False, id="no_labels_no_match"),
    ],
)
def test_selector(selector, labels, matches):
    assert selector_matches(selector, labels) is matches


def test_evicted_by_drain_skips_mirror_daemonset_and_finished_pods():
    from types import SimpleNamespace as NS

    from tke_recycle_sdk import evicted_by_drain

    def pod(mirror=False, owner=None, phase="Running"):
        return NS(mirror=mirror, owner=None if owner is None else NS(kind=owner, name="x"), phase=phase)

    assert evicted_by_drain(pod())
    assert evicted_by_drain(pod(owner="Deployment"))
    assert not evicted_by_drain(pod(mirror=True))
    assert not evicted_by_drain(pod(owner="DaemonSet"))
    assert not evicted_by_drain(pod(phase="Succeeded"))
    assert not evicted_by_drain(pod(phase="Failed"))
