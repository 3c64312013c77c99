"""ACL policies: parsing (HCL/JSON), the compiled ACL a request is checked against, the policy store
behind the barrier, and the normalisation of request paths the ACL relies on."""

from engine.policy.acl import ACL, Decision
from engine.policy.builtin import DEFAULT_POLICY, DEFAULT_POLICY_TEXT, ROOT_POLICY
from engine.policy.capabilities import Capability
from engine.policy.hcl_reader import warm_up as warm_up_parser
from engine.policy.parser import PathRule, Policy, PolicyError, parse_policy
from engine.policy.request_path import normalize_request_path
from engine.policy.store import PolicyStore

__all__ = [
    "ACL",
    "DEFAULT_POLICY",
    "DEFAULT_POLICY_TEXT",
    "ROOT_POLICY",
    "Capability",
    "Decision",
    "PathRule",
    "Policy",
    "PolicyError",
    "PolicyStore",
    "normalize_request_path",
    "parse_policy",
    "warm_up_parser",
]
